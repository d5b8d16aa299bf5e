// With memory_budget.cc, the only file that includes RocksDB: its errors become Status here.
#include "engine/state_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstring>

#include "engine/memory_budget.h"

namespace vigil::engine {
namespace {

// Reserved table for engine metadata; operators get ids from 1.
constexpr TableId kMetaTable = 0;
constexpr std::string_view kCheckpointKey = "checkpoint_offset";
constexpr std::string_view kLabelCheckpointKey = "label_checkpoint_offset";
// Local only: never in the changelog (it is a position in it).
constexpr std::string_view kChangelogKey = "changelog_offset";

int64_t ReadOffset(rocksdb::DB* db, std::string_view name, rocksdb::Status* status) {
  std::string key(2, '\0');
  key.append(name);
  std::string value;
  int64_t offset = -1;
  *status = db->Get(rocksdb::ReadOptions(), key, &value);
  if (status->ok() && value.size() == sizeof(int64_t)) std::memcpy(&offset, value.data(), sizeof(int64_t));
  if (status->IsNotFound()) *status = rocksdb::Status::OK();
  return offset;
}

base::Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return base::Status::OK();
  if (s.IsCorruption()) return base::Corruption(std::string(what) + ": " + s.ToString());
  return base::IoError(std::string(what) + ": " + s.ToString());
}

}  // namespace

StateStore::StateStore(std::unique_ptr<rocksdb::DB> db, int64_t checkpoint, int64_t label_checkpoint,
                       int64_t changelog, std::size_t flush_changes)
    : db_(std::move(db)),
      pending_(std::make_unique<rocksdb::WriteBatch>()),
      checkpoint_offset_(checkpoint),
      label_checkpoint_offset_(label_checkpoint),
      changelog_offset_(changelog),
      flush_changes_(flush_changes) {}

StateStore::~StateStore() { (void)Close(); }

base::Result<std::unique_ptr<StateStore>> StateStore::Open(const StateStoreOptions& options) {
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.write_buffer_size = options.write_buffer_bytes;
  opts.max_background_jobs = 2;
  opts.compression = rocksdb::kLZ4Compression;
  // Space: a store's values are rewritten often (a window per key, every commit that touches it), so
  // the disk is mostly old versions until compaction merges them. Compacting level 0 from two files
  // and sizing the levels from the last one keep the disk within a small factor of the live bytes.
  opts.level_compaction_dynamic_level_bytes = true;
  opts.level0_file_num_compaction_trigger = 2;
  opts.keep_log_file_num = 2;  // RocksDB's own info logs, one more per open
  rocksdb::BlockBasedTableOptions table;
  // Most lookups of a large key space are for keys the store lacks (a card's first event): a Bloom
  // filter answers them without reading a data block.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  // The same in front of the memtables (2% of their size), which a Get searches first.
  opts.memtable_prefix_bloom_size_ratio = 0.02;
  opts.memtable_whole_key_filtering = true;
  if (options.memory != nullptr) {
    // Every block (index and filter included) and, through the write-buffer manager, every memtable
    // is in the process's one cache: the stores' memory is bounded together, whatever their number.
    const MemoryBudget& memory = *options.memory;
    table.block_cache = memory.block_cache();
    table.cache_index_and_filter_blocks = true;
    table.cache_index_and_filter_blocks_with_high_priority = true;
    // Pinned by the open tables (charged to the cache all the same): a lookup reads a table's filter
    // and index without a cache lookup, its lock and its hash probe. Most lookups of keys the store
    // lacks (a new card, a label's first arrival) read nothing else.
    table.metadata_cache_options.unpartitioned_pinning = rocksdb::PinningTier::kAll;
    opts.write_buffer_manager = memory.write_buffers();
    opts.statistics = memory.statistics();
    opts.write_buffer_size =
        std::min(options.write_buffer_bytes, std::max<std::size_t>(memory.memtable_bytes() / 4, 1 << 20));
  } else {
    table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  }
  opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(opts, options.path, &raw);
  if (!s.ok()) return FromRocks(s, "cannot open state store '" + options.path + "'");
  std::unique_ptr<rocksdb::DB> db(raw);
  const int64_t checkpoint = ReadOffset(db.get(), kCheckpointKey, &s);
  if (!s.ok()) return FromRocks(s, "cannot read checkpoint of '" + options.path + "'");
  const int64_t label_checkpoint = ReadOffset(db.get(), kLabelCheckpointKey, &s);
  if (!s.ok()) return FromRocks(s, "cannot read checkpoint of '" + options.path + "'");
  const int64_t changelog = ReadOffset(db.get(), kChangelogKey, &s);
  if (!s.ok()) return FromRocks(s, "cannot read checkpoint of '" + options.path + "'");
  auto store = std::unique_ptr<StateStore>(
      new StateStore(std::move(db), checkpoint, label_checkpoint, changelog, options.flush_changes));
  store->blank_.store(store->empty(), std::memory_order_relaxed);
  return store;
}

base::Status StateStore::Destroy(const std::string& path) {
  return FromRocks(rocksdb::DestroyDB(path, rocksdb::Options()), "cannot destroy state store '" + path + "'");
}

std::string StateStore::TableKey(TableId table, std::string_view key) const {
  std::string out;
  out.reserve(2 + key.size());
  out.push_back(static_cast<char>(table >> 8));
  out.push_back(static_cast<char>(table & 0xff));
  out.append(key);
  return out;
}

base::Result<bool> StateStore::Get(TableId table, std::string_view key, std::string* value) const {
  if (blank_.load(std::memory_order_acquire)) return false;
  key_buf_.clear();
  key_buf_.push_back(static_cast<char>(table >> 8));
  key_buf_.push_back(static_cast<char>(table & 0xff));
  key_buf_.append(key);
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), key_buf_, value);
  if (s.IsNotFound()) return false;
  if (!s.ok()) return FromRocks(s, "state read");
  return true;
}

base::Status StateStore::Scan(TableId table, std::string_view prefix, std::optional<std::string>* cursor,
                              std::size_t limit,
                              const std::function<void(std::string_view, std::string_view)>& fn) const {
  if (blank_.load(std::memory_order_acquire)) {
    cursor->reset();
    return base::Status::OK();
  }
  const std::string start = TableKey(table, prefix);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  if (cursor->has_value()) {
    const std::string from = TableKey(table, **cursor);
    it->Seek(from);
    if (it->Valid() && it->key() == rocksdb::Slice(from)) it->Next();
  } else {
    it->Seek(start);
  }
  std::size_t visited = 0;
  for (; it->Valid() && visited < limit; it->Next(), ++visited) {
    const rocksdb::Slice k = it->key();
    if (!k.starts_with(start)) break;
    const std::string_view key(k.data() + 2, k.size() - 2);
    fn(key, std::string_view(it->value().data(), it->value().size()));
    *cursor = std::string(key);
  }
  VIGIL_RETURN_IF_ERROR(FromRocks(it->status(), "state scan"));
  // Past the last record under the prefix: start over next time.
  if (visited < limit || !it->Valid() || !it->key().starts_with(start)) cursor->reset();
  return base::Status::OK();
}

void StateStore::Put(TableId table, std::string_view key, std::string_view value) {
  (void)pending_->Put(TableKey(table, key), rocksdb::Slice(value.data(), value.size()));
  ++staged_;
}

void StateStore::Delete(TableId table, std::string_view key) {
  (void)pending_->Delete(TableKey(table, key));
  ++staged_;
}

namespace {
void PutOffset(rocksdb::WriteBatch* batch, std::string key, int64_t offset) {
  char buf[sizeof(int64_t)];
  std::memcpy(buf, &offset, sizeof buf);
  (void)batch->Put(key, rocksdb::Slice(buf, sizeof buf));
}
}  // namespace

base::Status StateStore::Commit(int64_t next_offset, int64_t label_next_offset) {
  Prepare(next_offset, label_next_offset);
  return Apply(changelog_offset_);
}

void StateStore::Prepare(int64_t next_offset, int64_t label_next_offset) {
  PutOffset(pending_.get(), TableKey(kMetaTable, kCheckpointKey), next_offset);
  PutOffset(pending_.get(), TableKey(kMetaTable, kLabelCheckpointKey), label_next_offset);
  prepared_offset_ = next_offset;
  prepared_label_offset_ = label_next_offset;
}

base::Status StateStore::ForEachStaged(
    const std::function<base::Status(std::string_view, const std::string_view*)>& fn) const {
  struct Handler : rocksdb::WriteBatch::Handler {
    const std::function<base::Status(std::string_view, const std::string_view*)>* fn;
    base::Status status;
    void Put(const rocksdb::Slice& key, const rocksdb::Slice& value) override {
      if (!status.ok()) return;
      const std::string_view v(value.data(), value.size());
      status = (*fn)(std::string_view(key.data(), key.size()), &v);
    }
    void Delete(const rocksdb::Slice& key) override {
      if (status.ok()) status = (*fn)(std::string_view(key.data(), key.size()), nullptr);
    }
  } handler;
  handler.fn = &fn;
  VIGIL_RETURN_IF_ERROR(FromRocks(pending_->Iterate(&handler), "state changes"));
  return handler.status;
}

base::Status StateStore::Apply(int64_t changelog_offset) {
  if (changelog_offset >= 0) PutOffset(pending_.get(), TableKey(kMetaTable, kChangelogKey), changelog_offset);
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;
  if (staged_ > 0) blank_.store(false, std::memory_order_release);
  VIGIL_RETURN_IF_ERROR(FromRocks(db_->Write(wo, pending_.get()), "state commit"));
  pending_->Clear();
  FlushWhenDue(staged_);
  staged_ = 0;
  checkpoint_offset_ = prepared_offset_;
  label_checkpoint_offset_ = prepared_label_offset_;
  if (changelog_offset >= 0) changelog_offset_ = changelog_offset;
  return base::Status::OK();
}

void StateStore::FlushWhenDue(std::size_t changes) {
  unflushed_ += changes;
  if (unflushed_ < flush_changes_) return;
  unflushed_ = 0;
  rocksdb::FlushOptions options;
  options.wait = false;  // the memtable is written in the background; writes go on into a new one
  options.allow_write_stall = true;
  (void)db_->Flush(options);  // best effort: a failed flush only leaves a longer tail to replay
}

bool StateStore::FlushPending() const {
  uint64_t pending = 0, running = 0;
  db_->GetIntProperty("rocksdb.mem-table-flush-pending", &pending);
  db_->GetIntProperty("rocksdb.num-running-flushes", &running);
  return pending > 0 || running > 0;
}

bool StateStore::empty() const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  it->SeekToFirst();
  return !it->Valid();
}

base::Status StateStore::ApplyRestored(
    const std::vector<std::pair<std::string, std::optional<std::string>>>& changes,
    int64_t changelog_offset) {
  rocksdb::WriteBatch batch;
  for (const auto& [key, value] : changes) {
    if (value)
      (void)batch.Put(key, *value);
    else
      (void)batch.Delete(key);
  }
  PutOffset(&batch, TableKey(kMetaTable, kChangelogKey), changelog_offset);
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;
  if (!changes.empty()) blank_.store(false, std::memory_order_release);
  VIGIL_RETURN_IF_ERROR(FromRocks(db_->Write(wo, &batch), "state restore"));
  FlushWhenDue(changes.size());
  rocksdb::Status s;
  checkpoint_offset_ = ReadOffset(db_.get(), kCheckpointKey, &s);
  if (s.ok()) label_checkpoint_offset_ = ReadOffset(db_.get(), kLabelCheckpointKey, &s);
  changelog_offset_ = changelog_offset;
  return FromRocks(s, "state restore checkpoint");
}

void StateStore::CompactLevel0WhenLarge() {
  rocksdb::ColumnFamilyMetaData meta;
  db_->GetColumnFamilyMetaData(&meta);
  if (meta.levels.empty() || meta.levels[0].size == 0 || meta.levels[0].size * 4 < meta.size) return;
  // Level 0 holds the memtables flushed since the last compaction: mostly newer versions of keys
  // stored below, so a small store's disk can be twice its live bytes when it stops. Merged here when
  // level 0 is a quarter or more of the store, the work is at most five times what level 0 holds (a
  // few memtables), whatever the store's size, and a stopped pipeline leaves its state compacted.
  rocksdb::CompactRangeOptions options;
  (void)db_->CompactRange(options, nullptr, nullptr);  // best effort: only space is at stake
}

base::Status StateStore::Close() {
  if (!db_) return base::Status::OK();
  base::Status st = FromRocks(db_->Flush(rocksdb::FlushOptions()), "state flush");
  if (st.ok()) CompactLevel0WhenLarge();
  base::Status close = FromRocks(db_->Close(), "state close");
  db_.reset();
  return st.ok() ? close : st;
}

uint64_t StateStore::EstimateKeys() const {
  uint64_t n = 0;
  if (db_) db_->GetIntProperty("rocksdb.estimate-num-keys", &n);
  return n;
}

}  // namespace vigil::engine
