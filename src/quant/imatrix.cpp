#include "quant/imatrix.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "runtime/session.h"

namespace fathom::quant {

namespace {

const char* const k_sum2 = ".in_sum2";
const char* const k_counts = ".counts";

bool ends_with(const std::string& s, const char* suffix) {
    const size_t n = std::strlen(suffix);
    return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

}  // namespace

std::vector<float> imatrix::importance(const std::string& name) const {
    const auto it = entries.find(name);
    if (it == entries.end() || !(it->second.count > 0)) return {};
    std::vector<float> v(it->second.sum2.size());
    for (size_t i = 0; i < v.size(); ++i) v[i] = it->second.sum2[i] / it->second.count;
    return v;
}

imatrix calibrate(const llama_model& model, const std::vector<int32_t>& tokens, int32_t bos,
                  const calibrate_options& opts, const std::function<void(int64_t, int64_t)>& progress) {
    const int64_t n_ctx = opts.n_ctx;
    if (n_ctx < 2) fail(errc::ERRC_INVALID_ARGUMENT, "calibrate: n_ctx " + std::to_string(n_ctx) + " is below 2");
    if (model.hp.n_ctx_train > 0 && n_ctx > model.hp.n_ctx_train)
        fail(errc::ERRC_INVALID_ARGUMENT, "calibrate: n_ctx " + std::to_string(n_ctx) + " exceeds the model's context " +
                                              std::to_string(model.hp.n_ctx_train));
    int64_t n_chunks = int64_t(tokens.size()) / n_ctx;
    if (n_chunks < 1)
        fail(errc::ERRC_INVALID_ARGUMENT, "calibrate: the data has " + std::to_string(tokens.size()) +
                                              " tokens, less than one chunk of " + std::to_string(n_ctx));
    if (opts.max_chunks > 0) n_chunks = std::min(n_chunks, opts.max_chunks);
    for (int32_t t : tokens)
        if (t < 0 || t >= model.hp.n_vocab)
            fail(errc::ERRC_INVALID_ARGUMENT, "calibrate: token id " + std::to_string(t) + " outside the vocabulary");

    imatrix im;
    im.chunk_size = n_ctx;
    im.chunk_count = n_chunks;
    session_params sp;
    sp.n_ctx = n_ctx;
    sp.n_threads = opts.n_threads;
    session s(model, sp);
    s.set_activation_observer([&](const io::tensor_entry& w, const float* x, int64_t ldx, int64_t n_tok) {
        imatrix_entry& e = im.entries[w.name];
        const int64_t n_in = w.ne[0];
        if (e.sum2.empty()) e.sum2.assign(size_t(n_in), 0.0f);
        // Sum in double per call, then add: keeps long runs accurate.
        std::vector<double> acc(size_t(n_in), 0.0);
        for (int64_t t = 0; t < n_tok; ++t) {
            const float* r = x + t * ldx;
            for (int64_t i = 0; i < n_in; ++i) acc[size_t(i)] += double(r[i]) * double(r[i]);
        }
        for (int64_t i = 0; i < n_in; ++i) e.sum2[size_t(i)] += float(acc[size_t(i)]);
        e.count += float(n_tok);
    });
    std::vector<batch_token> batch(static_cast<size_t>(n_ctx));
    for (int64_t c = 0; c < n_chunks; ++c) {
        s.truncate(0, 0);
        for (int64_t p = 0; p < n_ctx; ++p) {
            // every row marked: the last layer and the output then see every token too
            batch[size_t(p)] = {p == 0 && bos >= 0 ? bos : tokens[size_t(c * n_ctx + p)], int32_t(p), 0, true};
        }
        s.decode(batch);
        if (progress) progress(c + 1, n_chunks);
    }
    return im;
}

io::model_file imatrix_to_gguf(const imatrix& im) {
    io::model_file f;
    f.path = "imatrix";
    f.set("general.type", io::meta_value::str("imatrix"));
    std::vector<io::meta_value> ds;
    for (const std::string& d : im.datasets) ds.push_back(io::meta_value::str(d));
    f.set("imatrix.datasets", io::meta_value::array(io::gguf_type::GGUF_STRING, std::move(ds)));
    f.set("imatrix.chunk_count", io::meta_value::u32(uint32_t(im.chunk_count)));
    f.set("imatrix.chunk_size", io::meta_value::u32(uint32_t(im.chunk_size)));
    for (const auto& [name, e] : im.entries) {
        auto sums = std::make_shared<aligned_buffer>(e.sum2.size() * sizeof(float));
        std::memcpy(sums->data(), e.sum2.data(), e.sum2.size() * sizeof(float));
        auto count = std::make_shared<aligned_buffer>(sizeof(float));
        std::memcpy(count->data(), &e.count, sizeof(float));
        io::tensor_entry a;
        a.name = name + k_sum2;
        a.type = dtype::DTYPE_F32;
        a.ne = {int64_t(e.sum2.size()), 1};
        a.data = sums->data();
        a.nbytes = e.sum2.size() * sizeof(float);
        io::tensor_entry b;
        b.name = name + k_counts;
        b.type = dtype::DTYPE_F32;
        b.ne = {1, 1};
        b.data = count->data();
        b.nbytes = sizeof(float);
        f.owned.push_back(std::move(sums));
        f.owned.push_back(std::move(count));
        f.add_tensor(std::move(a));
        f.add_tensor(std::move(b));
    }
    return f;
}

void write_imatrix(const std::string& path, const imatrix& im) { io::write_gguf(path, imatrix_to_gguf(im)); }

imatrix imatrix_from_gguf(const io::model_file& f) {
    const std::string& p = f.path;
    imatrix im;
    if (const io::meta_value* v = f.find("general.type"); v && v->as_string("general.type") != "imatrix")
        fail(errc::ERRC_FORMAT, p + ": general.type is \"" + v->s + "\", not \"imatrix\"");
    if (const io::meta_value* v = f.find("imatrix.datasets"))
        for (const io::meta_value& d : v->as_array("imatrix.datasets"))
            if (d.type == io::gguf_type::GGUF_STRING) im.datasets.push_back(d.s);
    if (const io::meta_value* v = f.find("imatrix.chunk_count")) im.chunk_count = v->as_int("imatrix.chunk_count");
    if (const io::meta_value* v = f.find("imatrix.chunk_size")) im.chunk_size = v->as_int("imatrix.chunk_size");
    auto f32_values = [&](const io::tensor_entry& t) {
        if (t.type != dtype::DTYPE_F32) fail(errc::ERRC_FORMAT, p + ": tensor '" + t.name + "' is not F32");
        std::vector<float> v(static_cast<size_t>(t.nelements()));
        if (t.nbytes != v.size() * sizeof(float)) fail(errc::ERRC_FORMAT, p + ": tensor '" + t.name + "' has a bad size");
        std::memcpy(v.data(), t.data, t.nbytes);
        for (float x : v)
            if (!std::isfinite(x) || x < 0) fail(errc::ERRC_FORMAT, p + ": tensor '" + t.name + "' holds a negative or non-finite value");
        return v;
    };
    for (const io::tensor_entry& t : f.tensors) {
        if (ends_with(t.name, k_sum2)) {
            const std::string base = t.name.substr(0, t.name.size() - std::strlen(k_sum2));
            const io::tensor_entry* c = f.find_tensor(base + k_counts);
            if (!c) fail(errc::ERRC_FORMAT, p + ": tensor '" + t.name + "' has no '" + base + k_counts + "'");
            if (t.ne.size() < 1 || (t.ne.size() >= 2 && t.nelements() != t.ne[0]))
                fail(errc::ERRC_FORMAT, p + ": tensor '" + t.name + "' is not one row (expert matrices are not supported)");
            const std::vector<float> cv = f32_values(*c);
            if (cv.size() != 1) fail(errc::ERRC_FORMAT, p + ": tensor '" + c->name + "' must hold one count");
            imatrix_entry e;
            e.sum2 = f32_values(t);
            e.count = cv[0];
            im.entries.emplace(base, std::move(e));
        } else if (ends_with(t.name, k_counts)) {
            const std::string base = t.name.substr(0, t.name.size() - std::strlen(k_counts));
            if (!f.find_tensor(base + k_sum2)) fail(errc::ERRC_FORMAT, p + ": tensor '" + t.name + "' has no '" + base + k_sum2 + "'");
        } else {
            fail(errc::ERRC_FORMAT, p + ": tensor '" + t.name + "' is neither <weight>.in_sum2 nor <weight>.counts");
        }
    }
    if (im.entries.empty()) fail(errc::ERRC_FORMAT, p + ": no importance data (no *.in_sum2 tensors)");
    return im;
}

imatrix read_imatrix(const std::string& path) { return imatrix_from_gguf(io::read_gguf(path)); }

}  // namespace fathom::quant
