// lookout collections make: the SMALL collection built twice (library with
// 2 threads, the CLI with 1) must be byte-identical; counts, the 14-495 KB
// range, every file decoding at its recorded size; idempotence and the
// rebuild of an interrupted collection (on a 6-image collection, to stay quick).
// MEDIUM and BIG use the same code with more images; they are not built here.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <set>

#include "client/collections.h"
#include "image/image.h"
#include "server/server_process.h"

namespace lookout::client {
namespace {

namespace fs = std::filesystem;
using lookout::server_test::kPhotos;
using lookout::server_test::read_file;
using lookout::server_test::run_command;
using lookout::testing::shell_quote;
using lookout::testing::TempDir;

const CollectionSpec& small_spec() { return standard_collections().front(); }

std::vector<SourcePhoto> photos() { return load_sources(kPhotos); }

#define SKIP_WITHOUT_PHOTOS() \
  if (!fs::exists(kPhotos)) GTEST_SKIP() << kPhotos << " missing: run scripts/setup"

TEST(Collections, StandardSpecsAreTheExperiments) {
  const auto& specs = standard_collections();
  ASSERT_EQ(specs.size(), 3u);
  EXPECT_EQ(specs[0].name, "SMALL");
  EXPECT_EQ(specs[0].images, 296u);
  EXPECT_EQ(specs[1].name, "MEDIUM");
  EXPECT_EQ(specs[1].images, 2070u);
  EXPECT_EQ(specs[2].name, "BIG");
  EXPECT_EQ(specs[2].images, 4913u);
}

TEST(Collections, SmallIsCompleteInRangeDecodableAndReproducible) {
  SKIP_WITHOUT_PHOTOS();
  const std::vector<SourcePhoto> sources = photos();
  TempDir a, b;
  MakeOptions options;
  options.jobs = 2;
  size_t last_done = 0;
  options.on_progress = [&](size_t done, size_t total) {
    EXPECT_EQ(total, 296u);
    EXPECT_EQ(done, last_done + 1);
    last_done = done;
  };
  const MakeResult made = make_collection(sources, small_spec(), a.path(), options);
  EXPECT_FALSE(made.already_complete);
  EXPECT_EQ(made.images, 296u);
  EXPECT_EQ(last_done, 296u);
  EXPECT_GE(made.min_bytes, kMinCollectionFileBytes);
  EXPECT_LE(made.max_bytes, kMaxCollectionFileBytes);
  // Spread over the range, not bunched: the smallest near the bottom, the largest in the top fifth.
  EXPECT_LT(made.min_bytes, 20u * 1024);
  EXPECT_GT(made.max_bytes, 400u * 1024);

  const fs::path dir = a.path() / "SMALL";
  const std::vector<DerivedFile> manifest = read_manifest(dir);
  ASSERT_EQ(manifest.size(), 296u);
  std::set<std::string> names, used_sources;
  size_t jpgs = 0;
  for (const auto& e : fs::directory_iterator(dir)) jpgs += e.path().extension() == ".jpg";
  EXPECT_EQ(jpgs, 296u) << "the directory holds exactly the manifest's images";
  for (const DerivedFile& f : manifest) {
    SCOPED_TRACE(f.file);
    names.insert(f.file);
    used_sources.insert(f.source);
    const std::string bytes = read_file(dir / f.file);
    EXPECT_EQ(bytes.size(), f.bytes);
    EXPECT_GE(bytes.size(), kMinCollectionFileBytes);
    EXPECT_LE(bytes.size(), kMaxCollectionFileBytes);
    image::DecodeOptions header_size;  // decode at the smallest scale: we check sizes, not pixels
    header_size.min_width = header_size.min_height = 0;
    const image::Decoded d = image::decode({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, header_size);
    EXPECT_EQ(d.full_width, f.transform.width);
    EXPECT_EQ(d.full_height, f.transform.height);
    EXPECT_NE(f.file.find(fs::path(f.source).stem().string() + "_" + f.transform.text()), std::string::npos);
  }
  EXPECT_EQ(names.size(), 296u);
  EXPECT_EQ(used_sources.size(), sources.size()) << "every source photo is used";

  // The CLI, one thread, elsewhere: the same bytes.
  const std::string cmd = std::string(LOOKOUT_BINARY) + " collections make --only small --jobs 1 --from " +
                          shell_quote(kPhotos.string()) + " --out " + shell_quote(b.path().string()) + " 2>&1";
  const auto first = run_command(cmd);
  ASSERT_EQ(first.status, 0) << first.out;
  EXPECT_NE(first.out.find("SMALL    296 images"), std::string::npos) << first.out;
  for (const DerivedFile& f : manifest)
    ASSERT_EQ(read_file(b.path() / "SMALL" / f.file), read_file(dir / f.file)) << f.file << " differs between runs";
  EXPECT_EQ(read_file(b.path() / "SMALL" / kManifestName), read_file(dir / kManifestName));

  // Run again: nothing rewritten.
  struct stat before {};
  ASSERT_EQ(::stat((b.path() / "SMALL" / manifest[0].file).c_str(), &before), 0);
  const auto again = run_command(cmd);
  ASSERT_EQ(again.status, 0) << again.out;
  EXPECT_NE(again.out.find("already complete"), std::string::npos) << again.out;
  struct stat after {};
  ASSERT_EQ(::stat((b.path() / "SMALL" / manifest[0].file).c_str(), &after), 0);
  EXPECT_EQ(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
  EXPECT_EQ(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
}

TEST(Collections, InterruptedCollectionIsRebuiltAndStaleFilesGo) {
  SKIP_WITHOUT_PHOTOS();
  const std::vector<SourcePhoto> sources = photos();
  const CollectionSpec tiny{"TINY", 6, 42};
  TempDir out;
  const fs::path dir = out.path() / "TINY";
  make_collection(sources, tiny, out.path(), {});
  ASSERT_TRUE(collection_complete(dir, tiny));
  const std::vector<DerivedFile> manifest = read_manifest(dir);
  ASSERT_EQ(manifest.size(), 6u);
  const std::string second = read_file(dir / manifest[1].file);

  // Interrupted: a file truncated, one missing, a temporary and a numbered file of another build left over.
  lookout::server_test::write_file(dir / manifest[0].file, "trunc");
  fs::remove(dir / manifest[1].file);
  lookout::server_test::write_file(dir / ".0003_x.jpg.tmp", "partial");
  lookout::server_test::write_file(dir / "0099_old_build.jpg", "old");
  lookout::server_test::write_file(dir / "notes.txt", "the user's own file");
  EXPECT_FALSE(collection_complete(dir, tiny));

  const MakeResult again = make_collection(sources, tiny, out.path(), {});
  EXPECT_FALSE(again.already_complete);
  EXPECT_TRUE(collection_complete(dir, tiny));
  EXPECT_EQ(read_file(dir / manifest[1].file), second);
  EXPECT_FALSE(fs::exists(dir / ".0003_x.jpg.tmp"));
  EXPECT_FALSE(fs::exists(dir / "0099_old_build.jpg"));
  EXPECT_TRUE(fs::exists(dir / "notes.txt")) << "files the tool did not name are left alone";
  EXPECT_TRUE(make_collection(sources, tiny, out.path(), {}).already_complete);
}

TEST(Collections, DifferentSeedsGiveDifferentImages) {
  SKIP_WITHOUT_PHOTOS();
  const std::vector<SourcePhoto> sources = photos();
  const DerivedImage a = derive_image(sources, {"A", 1, 1}, 0);
  const DerivedImage b = derive_image(sources, {"B", 1, 2}, 0);
  EXPECT_EQ(a.meta.source, b.meta.source);
  EXPECT_NE(a.jpeg, b.jpeg);
  EXPECT_EQ(derive_image(sources, {"A", 1, 1}, 0).jpeg, a.jpeg);
}

TEST(Collections, MissingSourceDirectorySaysWhatToDo) {
  try {
    load_sources("/nonexistent/photos");
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("scripts/setup"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lookout::client
