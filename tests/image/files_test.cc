// Which files are images, the recursive walk (sorted, through directory
// symlinks, other files skipped), and the bounded whole-file read.
#include "image/files.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "temp_dir.h"

namespace lookout::image {
namespace {

namespace fs = std::filesystem;
using lookout::testing::TempDir;

void write_file(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

TEST(ImageFiles, ExtensionsAnyCase) {
  for (const char* name : {"a.jpg", "a.JPG", "b.jpeg", "b.JpEg", "c.png", "c.PNG", "dir/d.x.jpg"})
    EXPECT_TRUE(has_image_extension(name)) << name;
  for (const char* name : {"a.gif", "a.jpg.txt", "jpg", "a.", "a", ".png.bak", "a.tiff"})
    EXPECT_FALSE(has_image_extension(name)) << name;
}

TEST(ImageFiles, FindImagesWalksSortedAndSkipsOthers) {
  TempDir tmp;
  const fs::path root = tmp.path() / "photos";
  for (const char* name : {"b.jpg", "a.PNG", "sub/c.jpeg", "sub/deeper/d.jpg", "notes.txt", "sub/e.gif"})
    write_file(root / name, "x");
  fs::create_directories(root / "empty.jpg");  // a directory named like an image is not one
  write_file(tmp.path() / "linked/f.png", "x");
  fs::create_directory_symlink(tmp.path() / "linked", root / "link");

  const std::vector<fs::path> want = {root / "a.PNG", root / "b.jpg", root / "link/f.png", root / "sub/c.jpeg",
                                      root / "sub/deeper/d.jpg"};
  EXPECT_EQ(find_images(root), want);
}

TEST(ImageFiles, FindImagesOnAMissingDirectoryThrows) {
  TempDir tmp;
  EXPECT_THROW(find_images(tmp.path() / "absent"), std::runtime_error);
}

TEST(ImageFiles, ReadFileBytesWholeFile) {
  TempDir tmp;
  std::string content(3 << 20, '\0');  // several of the reader's chunks, and bytes of every value
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 31 + i / 7);
  write_file(tmp.path() / "f.bin", content);
  const std::vector<uint8_t> bytes = read_file_bytes(tmp.path() / "f.bin");
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()), content);
}

TEST(ImageFiles, ReadFileBytesRefusesMoreThanTheLimit) {
  TempDir tmp;
  write_file(tmp.path() / "big.bin", std::string((2 << 20) + 1, 'x'));
  try {
    read_file_bytes(tmp.path() / "big.bin", size_t{1} << 20);
    FAIL() << "a file over the limit was read";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "file larger than 1 MiB, not read");
  }
  EXPECT_EQ(read_file_bytes(tmp.path() / "big.bin", size_t{3} << 20).size(), (size_t{2} << 20) + 1);
}

TEST(ImageFiles, ReadFileBytesOnAMissingFileSaysWhy) {
  TempDir tmp;
  try {
    read_file_bytes(tmp.path() / "absent.jpg");
    FAIL() << "a missing file was read";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "cannot open: No such file or directory");
  }
}

}  // namespace
}  // namespace lookout::image
