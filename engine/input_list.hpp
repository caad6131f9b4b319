// InputList: a node's inputs. Almost every op has one to three inputs, so
// they live inside the node; only a longer list (concat) goes to the heap.
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
  Ptr* begin() { return size_ <= N ? inline_.data() : heap_->data(); }
  Ptr* end() { return begin() + size_; }
  const Ptr* begin() const { return size_ <= N ? inline_.data() : heap_->data(); }
  const Ptr* end() const { return begin() + size_; }
  Ptr& operator[](std::size_t i) { return begin()[i]; }
  const Ptr& operator[](std::size_t i) const { return begin()[i]; }

  void reserve(std::size_t n) {
    if (n > N) heap().reserve(n);
  }
  void push_back(Ptr p) {
    if (size_ < N) {
      inline_[size_++] = std::move(p);
      return;
    }
    if (size_ == N) heap().assign(std::make_move_iterator(inline_.begin()), std::make_move_iterator(inline_.end()));
    heap_->push_back(std::move(p));
    ++size_;
  }
  void clear() {
    for (auto& p : inline_) p = Ptr();
    heap_.reset();
    size_ = 0;
  }

 private:
  std::vector<Ptr>& heap() {
    if (!heap_) heap_ = std::make_unique<std::vector<Ptr>>();
    return *heap_;
  }

  std::array<Ptr, N> inline_{};
  std::unique_ptr<std::vector<Ptr>> heap_;  // only for more than N inputs
  std::uint32_t size_ = 0;
};

}  // namespace ember
