// Key files (wire/security/curve.h): what `cabildo keygen` writes reads back,
// the secret file is 0600, nothing is overwritten, and a bad file gives an
// error that names it and says what is wrong (PROTOCOL.md section 12).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "wire/security/curve.h"

namespace cabildo::wire {
namespace {

// A fresh directory per test, removed afterwards.
class KeyFileTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = ::testing::TempDir() + "cabildo-keys-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::string path(const std::string& name) const { return dir_ + "/" + name; }
    std::string write(const std::string& name, const std::string& text) const {
        std::ofstream(path(name)) << text;
        return path(name);
    }

    std::string dir_;
};

std::string read_all(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_F(KeyFileTest, WrittenFilesReadBack) {
    ASSERT_TRUE(curve_available());
    const CurveKeys keys = curve_keypair();
    EXPECT_TRUE(is_z85_key(keys.public_key));
    EXPECT_TRUE(is_z85_key(keys.secret_key));
    ASSERT_TRUE(write_key_files(path("web"), keys).ok());

    Result<CurveKeys> pair = read_key_file(path("web.key"), true);
    ASSERT_TRUE(pair.ok()) << pair.error().detail;
    EXPECT_EQ(pair->public_key, keys.public_key);
    EXPECT_EQ(pair->secret_key, keys.secret_key);

    // A public key is wanted: either file does; the .pub holds no secret.
    Result<CurveKeys> pub = read_key_file(path("web.pub"), false);
    ASSERT_TRUE(pub.ok()) << pub.error().detail;
    EXPECT_EQ(pub->public_key, keys.public_key);
    EXPECT_TRUE(pub->secret_key.empty());
    EXPECT_EQ(read_all(path("web.pub")).find(keys.secret_key), std::string::npos);
    Result<CurveKeys> key_as_pub = read_key_file(path("web.key"), false);
    ASSERT_TRUE(key_as_pub.ok());
    EXPECT_EQ(key_as_pub->public_key, keys.public_key);
}

TEST_F(KeyFileTest, TheSecretFileIsOwnerOnly) {
    ASSERT_TRUE(write_key_files(path("node1"), curve_keypair()).ok());
    struct stat st {};
    ASSERT_EQ(::stat(path("node1.key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_EQ(::stat(path("node1.pub").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0022, 0u);  // nobody but the owner may change it
}

TEST_F(KeyFileTest, RefusesToOverwrite) {
    const CurveKeys first = curve_keypair();
    ASSERT_TRUE(write_key_files(path("ops"), first).ok());
    Result<bool> again = write_key_files(path("ops"), curve_keypair());
    ASSERT_FALSE(again.ok());
    EXPECT_NE(again.error().detail.find(path("ops.key")), std::string::npos)
        << again.error().detail;
    Result<CurveKeys> kept = read_key_file(path("ops.key"), true);
    ASSERT_TRUE(kept.ok());
    EXPECT_EQ(kept->secret_key, first.secret_key);
}

// Z85 of a 32-byte key is 40 characters; this one is a character short.
TEST_F(KeyFileTest, BadFilesAreRefusedNamingTheFile) {
    const CurveKeys keys = curve_keypair();
    const CurveKeys other = curve_keypair();
    const std::string pub_line = "public-key = \"" + keys.public_key + "\"\n";
    struct Case {
        std::string name;
        std::string text;  // empty: the file does not exist
        bool need_secret;
        std::string says;  // a piece of the error's detail
    };
    const std::vector<Case> cases = {
        {"missing file", "", false, "cannot read"},
        {"short key", "public-key = \"" + keys.public_key.substr(1) + "\"\n", false, "Z85"},
        {"not Z85", "public-key = \"" + std::string(40, '~') + "\"\n", false, "Z85"},
        {"wrong name", "private-key = \"" + keys.secret_key + "\"\n", false, "line 1"},
        {"no equals sign", "# comment\njust some words\n", false, "line 2"},
        {"missing secret", "# a .pub\n" + pub_line, true, "secret-key"},
        {"empty file", "# nothing\n", false, "no public-key"},
        {"pair that does not match", pub_line + "secret-key = \"" + other.secret_key + "\"\n", true,
         "does not belong"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        const std::string file = c.text.empty() ? path("absent.key") : write("bad.key", c.text);
        Result<CurveKeys> read = read_key_file(file, c.need_secret);
        ASSERT_FALSE(read.ok());
        EXPECT_NE(read.error().detail.find(file), std::string::npos) << read.error().detail;
        EXPECT_NE(read.error().detail.find(c.says), std::string::npos) << read.error().detail;
    }
}

TEST_F(KeyFileTest, CommentsBlankLinesAndAMissingPublicLineAreFine) {
    const CurveKeys keys = curve_keypair();
    const std::string file =
        write("hand.key", "# written by hand\n\n   \n  secret-key=" + keys.secret_key + "\n");
    Result<CurveKeys> read = read_key_file(file, true);
    ASSERT_TRUE(read.ok()) << read.error().detail;
    EXPECT_EQ(read->public_key, keys.public_key);  // derived from the secret
}

}  // namespace
}  // namespace cabildo::wire
