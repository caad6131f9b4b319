// A file written under a temporary name beside its path and renamed over it,
// so a crash or error mid-save leaves the previous file intact (the
// safetensors writer, checkpoint.cpp). Header-only: one small class.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "../engine/error.hpp"

namespace ember::detail {

// A file written under a temporary name beside `path` and renamed over it
// by commit(); destroyed without commit, it removes the temporary file.
class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path) : path_(path) {
    static std::atomic<unsigned> counter{0};
    for (int attempt = 0;; ++attempt) {
      temp_ = fmt::format("{}.tmp-{}-{}", path, ::getpid(), counter++);
      fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ >= 0) return;
      if (errno != EEXIST || attempt == 100)
        fail<IoError>("save_safetensors: {}: cannot create the temporary file {}: {}", path, temp_,
                      std::strerror(errno));
    }
  }
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temp_.c_str());
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, std::uint64_t n) {
    const auto* p = static_cast<const char*>(data);
    while (n > 0) {
      const ssize_t put = ::write(fd_, p, std::min<std::uint64_t>(n, 1u << 30));
      if (put < 0 && errno == EINTR) continue;
      if (put < 0) fail<IoError>("save_safetensors: {}: cannot write: {}", path_, std::strerror(errno));
      p += put;
      n -= static_cast<std::uint64_t>(put);
    }
  }

  void commit() {
    if (::fsync(fd_) != 0) fail<IoError>("save_safetensors: {}: cannot flush to disk: {}", path_, std::strerror(errno));
    const int closed = ::close(fd_);
    fd_ = -1;
    if (closed != 0) fail<IoError>("save_safetensors: {}: cannot close: {}", path_, std::strerror(errno));
    if (::rename(temp_.c_str(), path_.c_str()) != 0)
      fail<IoError>("save_safetensors: {}: cannot replace: {}", path_, std::strerror(errno));
    committed_ = true;
    // Make the rename itself durable. The new file is in place either way,
    // so a failure here is not an error of the save.
    const std::size_t slash = path_.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path_.substr(0, slash);
    const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
      (void)::fsync(dir_fd);
      ::close(dir_fd);
    }
  }

 private:
  std::string path_, temp_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace ember::detail
