// Runs `fathom chat` (and `fathom run --stop`) on a tiny model with a byte-level BPE vocabulary written by the test:
// replies against greedy generation through the API from a fresh session, KV-cache reuse seen in the per-turn
// stats, history trimming in a small context, /reset and /exit, template choices and one-line errors.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "chat-test-util.h"
#include "fathom/fathom.hpp"

namespace {

using namespace chat_test;

// One "prompt: N tokens (R of T reused from the cache)" line of the chat's stderr.
struct turn_stats {
    int64_t n_run = 0, n_reused = 0, n_total = 0;
};

std::vector<turn_stats> prompt_stats(const std::string& err) {
    std::vector<turn_stats> v;
    const std::regex re(R"(prompt: (\d+) tokens \((\d+) of (\d+) reused from the cache\))");
    for (std::sregex_iterator it(err.begin(), err.end(), re), end; it != end; ++it)
        v.push_back({std::stoll((*it)[1]), std::stoll((*it)[2]), std::stoll((*it)[3])});
    return v;
}

int count(const std::string& s, const std::string& what) {
    int n = 0;
    for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
    return n;
}

int count_lines(const std::string& s) { return count(s, "\n") + (!s.empty() && s.back() != '\n' ? 1 : 0); }

class ChatCli : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        model_ = (scratch_dir() / "chat.gguf").string();
        write_model(model_);
        no_template_ = (scratch_dir() / "chat-no-template.gguf").string();
        model_spec nt;
        nt.chat_template = "";
        write_model(no_template_, nt);
        bos_model_ = (scratch_dir() / "chat-bos.gguf").string();
        model_spec b;
        b.add_bos = true;
        write_model(bos_model_, b);
    }

    // The reply greedy generation gives for a whole conversation, from a fresh session (the oracle).
    static std::string greedy_reply(const fathom::model& m, const std::vector<fathom::chat_message>& conv,
                                    int32_t n_predict, const std::vector<std::string>& stops = {}) {
        const std::vector<int32_t> prompt = m.tokenize(m.chat_render(conv, true), false, true);
        fathom_session_options so = fathom::default_session_options();
        so.n_ctx = 256;
        so.n_threads = 1;
        fathom::session s(m, so);
        fathom_sampler_options sp = fathom::default_sampler_options();
        sp.temperature = 0;
        fathom::sampler greedy(sp);
        fathom_generate_options g = fathom::default_generate_options();
        g.max_tokens = n_predict;
        std::vector<int32_t> reply;
        fathom::generate(s, greedy, prompt, g, stops, [&](int32_t t) {
            reply.push_back(t);
            return false;
        });
        return m.detokenize(reply);
    }

    static std::string model_, no_template_, bos_model_;
};
std::string ChatCli::model_, ChatCli::no_template_, ChatCli::bos_model_;

TEST_F(ChatCli, TwoTurnsMatchFreshGenerationAndReuseTheCache) {
    result r = run_cli({"chat", "-m", model_, "-n", "8", "--temp", "0", "-c", "256", "-t", "1"}, "Hello\nHow are you\n");
    ASSERT_EQ(r.rc, 0) << r.err;
    fathom::model m(model_);
    const std::string reply1 = greedy_reply(m, {{"user", "Hello"}}, 8);
    const std::vector<fathom::chat_message> conv2 = {{"user", "Hello"}, {"assistant", reply1}, {"user", "How are you"}};
    const std::string reply2 = greedy_reply(m, conv2, 8);
    EXPECT_EQ(r.out, reply1 + "\n" + reply2 + "\n");
    EXPECT_EQ(r.err.find("> "), std::string::npos) << "prompt printed although stdin is not a terminal";

    const std::vector<turn_stats> st = prompt_stats(r.err);
    ASSERT_EQ(st.size(), 2u) << r.err;
    const int64_t n1 = int64_t(m.tokenize(m.chat_render({{"user", "Hello"}}, true), false, true).size());
    const int64_t n2 = int64_t(m.tokenize(m.chat_render(conv2, true), false, true).size());
    EXPECT_EQ(st[0].n_total, n1);
    EXPECT_EQ(st[0].n_reused, 0);
    EXPECT_EQ(st[0].n_run, n1);
    // The second turn runs only what follows the first turn's prompt (and reply) in the cache.
    EXPECT_EQ(st[1].n_total, n2);
    EXPECT_GE(st[1].n_reused, n1);
    EXPECT_EQ(st[1].n_run, n2 - st[1].n_reused);
    EXPECT_LT(st[1].n_run, n2);
    EXPECT_EQ(count(r.err, "decode: "), 2);
}

TEST_F(ChatCli, ResetAndExit) {
    result r = run_cli({"chat", "-m", model_, "-n", "6", "--temp", "0", "-t", "1"}, "Hello\n/reset\nHello\n/exit\nHi\n");
    ASSERT_EQ(r.rc, 0) << r.err;
    fathom::model m(model_);
    const std::string reply = greedy_reply(m, {{"user", "Hello"}}, 6);
    EXPECT_EQ(r.out, reply + "\n" + reply + "\n");  // the same first turn twice; nothing after /exit
    EXPECT_EQ(count(r.err, "(conversation cleared)"), 1) << r.err;
    const std::vector<turn_stats> st = prompt_stats(r.err);
    ASSERT_EQ(st.size(), 2u) << r.err;
    EXPECT_EQ(st[1].n_reused, 0);
    EXPECT_EQ(st[1].n_total, st[0].n_total);
    // End of input ends the chat too; blank lines are skipped.
    r = run_cli({"chat", "-m", model_, "-n", "2", "--temp", "0", "-t", "1"}, "\n\nHello");
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(prompt_stats(r.err).size(), 1u) << r.err;
}

TEST_F(ChatCli, SystemMessage) {
    result r = run_cli({"chat", "-m", model_, "-n", "5", "--temp", "0", "-t", "1", "--system", "Be brief."}, "Hello\n");
    ASSERT_EQ(r.rc, 0) << r.err;
    fathom::model m(model_);
    EXPECT_EQ(r.out, greedy_reply(m, {{"system", "Be brief."}, {"user", "Hello"}}, 5) + "\n");
}

TEST_F(ChatCli, SmallContextDropsOldExchangesAndSkipsTurnsThatCannotFit) {
    const int64_t n_ctx = 64, n_predict = 8;
    const std::string long_line(200, 'x');
    result r = run_cli({"chat", "-m", model_, "-n", std::to_string(n_predict), "--temp", "0", "-c",
                        std::to_string(n_ctx), "-t", "1", "--system", "S"},
                       "Hello\nHi\nHey\n" + long_line + "\nOk\nYo\n");
    ASSERT_EQ(r.rc, 0) << r.err;
    const std::vector<turn_stats> st = prompt_stats(r.err);
    ASSERT_EQ(st.size(), 5u) << r.err;  // the long turn is skipped
    for (const turn_stats& t : st) EXPECT_LE(t.n_total + n_predict, n_ctx) << r.err;
    EXPECT_EQ(count(r.err, "turn skipped: the prompt of "), 1) << r.err;
    EXPECT_GE(count(r.err, "(dropped the "), 1) << r.err;
    // After the skipped turn the conversation goes on where it was: the cache still holds its start.
    EXPECT_GT(st[3].n_reused, 0) << r.err;
    EXPECT_GE(count_lines(r.out), 5) << r.out;
}

TEST_F(ChatCli, TemplateChoices) {
    fathom::model m(no_template_);
    // No template in the model and none given: one line naming the model and the built-ins.
    result r = run_cli({"chat", "-m", no_template_, "-n", "2"}, "Hello\n");
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(no_template_ + ": has no chat template"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--chat-template NAME (llama2, llama3, chatml, deepseek"), std::string::npos) << r.err;
    // A name that is neither built in nor a file.
    r = run_cli({"chat", "-m", model_, "--chat-template", "nosuch", "-n", "2"}, "Hello\n");
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("'nosuch' is neither a built-in template (llama2, llama3, chatml"), std::string::npos)
        << r.err;
    EXPECT_TRUE(r.out.empty());

    // A built-in name: the prompt is the built-in rendering (chatml adds its default system turn).
    r = run_cli({"chat", "-m", no_template_, "--chat-template", "chatml", "-n", "4", "--temp", "0", "-t", "1"},
                "Hello\n");
    ASSERT_EQ(r.rc, 0) << r.err;
    std::vector<turn_stats> st = prompt_stats(r.err);
    ASSERT_EQ(st.size(), 1u) << r.err;
    EXPECT_EQ(st[0].n_total,
              int64_t(m.tokenize(m.chat_render({{"user", "Hello"}}, true, "chatml"), false, true).size()));

    // A Jinja file: the same template as the other model's own gives the same replies.
    const std::string file = (scratch_dir() / "template.jinja").string();
    {
        std::ofstream f(file);
        f << k_model_template;
    }
    r = run_cli({"chat", "-m", no_template_, "--chat-template", file, "-n", "4", "--temp", "0", "-t", "1"}, "Hello\n");
    ASSERT_EQ(r.rc, 0) << r.err;
    st = prompt_stats(r.err);
    ASSERT_EQ(st.size(), 1u) << r.err;
    EXPECT_EQ(st[0].n_total,
              int64_t(m.tokenize(m.chat_render({{"user", "Hello"}}, true, k_model_template), false, true).size()));

    // A model without a tokenizer cannot chat.
    const std::string plain = (scratch_dir() / "chat-plain.gguf").string();
    fathom::synth(fathom::default_synth_options(), plain);
    r = run_cli({"chat", "-m", plain, "--chat-template", "chatml"}, "Hello\n");
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(plain + ": has no tokenizer"), std::string::npos) << r.err;
}

TEST_F(ChatCli, BosIsAddedOnlyWhenTheTemplateDoesNotWriteIt) {
    fathom::model m(bos_model_);
    const std::vector<fathom::chat_message> conv = {{"user", "Hello"}};
    // llama3 writes bos_token itself: no second BOS.
    result r = run_cli({"chat", "-m", bos_model_, "--chat-template", "llama3", "-n", "2", "--temp", "0", "-t", "1"},
                       "Hello\n");
    ASSERT_EQ(r.rc, 0) << r.err;
    std::vector<turn_stats> st = prompt_stats(r.err);
    ASSERT_EQ(st.size(), 1u) << r.err;
    const std::vector<int32_t> llama3 = m.tokenize(m.chat_render(conv, true, "llama3"), false, true);
    ASSERT_FALSE(llama3.empty());
    EXPECT_EQ(llama3[0], k_bos);
    EXPECT_EQ(st[0].n_total, int64_t(llama3.size()));
    // chatml does not: the vocabulary's add_bos_token puts one in front.
    r = run_cli({"chat", "-m", bos_model_, "-n", "2", "--temp", "0", "-t", "1"}, "Hello\n");
    ASSERT_EQ(r.rc, 0) << r.err;
    st = prompt_stats(r.err);
    ASSERT_EQ(st.size(), 1u) << r.err;
    EXPECT_EQ(st[0].n_total, int64_t(m.tokenize(m.chat_render(conv, true), false, true).size()) + 1);
}

TEST_F(ChatCli, StopStrings) {
    fathom::model m(model_);
    const std::string reply = greedy_reply(m, {{"user", "Hello"}}, 16);
    ASSERT_GE(reply.size(), 6u) << "degenerate greedy reply";
    const std::string stop = reply.substr(reply.size() / 2, 2);
    const std::string want = greedy_reply(m, {{"user", "Hello"}}, 16, {stop});
    ASSERT_LT(want.size(), reply.size());
    result r = run_cli({"chat", "-m", model_, "-n", "16", "--temp", "0", "-t", "1", "--stop", "\x01unused", "--stop",
                        stop},
                       "Hello\n");
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.out, want + "\n");
    EXPECT_NE(r.err.find("stop string"), std::string::npos) << r.err;

    // fathom run --stop: the printed text stops before the token where the stop string starts.
    const std::vector<std::string> run_args = {"run", "-m", model_, "-p", "Hello", "-n", "24", "--temp", "0",
                                               "--ignore-eos", "-t", "1"};
    result full = run_cli(run_args);
    ASSERT_EQ(full.rc, 0) << full.err;
    ASSERT_GE(full.out.size(), 8u);
    const std::string text = full.out.substr(0, full.out.size() - 1);  // without the final newline
    const std::string run_stop = text.substr(text.size() / 2, 3);
    std::vector<std::string> args = run_args;
    args.insert(args.end(), {"--stop=" + run_stop});
    r = run_cli(args);
    ASSERT_EQ(r.rc, 0) << r.err;
    ASSERT_FALSE(r.out.empty());
    const std::string cut = r.out.substr(0, r.out.size() - 1);
    EXPECT_EQ(text.compare(0, cut.size(), cut), 0) << "'" << cut << "' is not a prefix of '" << text << "'";
    EXPECT_LE(cut.size(), text.find(run_stop));
    EXPECT_NE(r.err.find("stop string"), std::string::npos) << r.err;
    // Usage errors.
    args = run_args;
    args.push_back("--stop");
    r = run_cli(args);
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("option '--stop' needs a value"), std::string::npos) << r.err;
    r = run_cli({"run", "-m", model_, "-p", "Hello", "--stop="});
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("--stop: the value must not be empty"), std::string::npos) << r.err;
}

TEST_F(ChatCli, Help) {
    result r = run_cli({"chat", "--help"});
    EXPECT_EQ(r.rc, 0);
    EXPECT_EQ(r.out.rfind("usage: fathom chat", 0), 0u) << r.out;
    for (const char* opt : {"--system", "--chat-template", "--stop", "-n, --n-predict", "-c, --ctx-size", "--temp"})
        EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
    r = run_cli({"chat"});
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("missing -m MODEL"), std::string::npos) << r.err;
}

}  // namespace
