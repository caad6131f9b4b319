// InputList: a node's inputs, each with the version its values had when the
// op used them (see Node::version). Almost every op has one to three inputs,
// so they live inside the node; only a longer list (concat) goes to the heap.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace ember {

template <class Ptr, std::size_t N = 3>
class InputList {
 public:
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  Ptr* begin() { return size_ <= N ? inline_.data() : heap_->nodes.data(); }
  Ptr* end() { return begin() + size_; }
  const Ptr* begin() const { return size_ <= N ? inline_.data() : heap_->nodes.data(); }
  const Ptr* end() const { return begin() + size_; }
  Ptr& operator[](std::size_t i) { return begin()[i]; }
  const Ptr& operator[](std::size_t i) const { return begin()[i]; }

  // The version input i had when it was recorded.
  std::uint32_t version(std::size_t i) const { return size_ <= N ? versions_[i] : heap_->versions[i]; }

  void reserve(std::size_t n) {
    if (n > N) {
      heap().nodes.reserve(n);
      heap().versions.reserve(n);
    }
  }
  void push_back(Ptr p, std::uint32_t version) {
    if (size_ < N) {
      versions_[size_] = version;
      inline_[size_++] = std::move(p);
      return;
    }
    if (size_ == N) {
      heap().nodes.assign(std::make_move_iterator(inline_.begin()), std::make_move_iterator(inline_.end()));
      heap().versions.assign(versions_.begin(), versions_.end());
    }
    heap_->nodes.push_back(std::move(p));
    heap_->versions.push_back(version);
    ++size_;
  }
  void clear() {
    for (auto& p : inline_) p = Ptr();
    heap_.reset();
    size_ = 0;
  }

 private:
  struct Heap {
    std::vector<Ptr> nodes;
    std::vector<std::uint32_t> versions;
  };
  Heap& heap() {
    if (!heap_) heap_ = std::make_unique<Heap>();
    return *heap_;
  }

  std::array<Ptr, N> inline_{};
  std::unique_ptr<Heap> heap_;  // only for more than N inputs
  std::array<std::uint32_t, N> versions_{};
  std::uint32_t size_ = 0;
};

}  // namespace ember
