package handler

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Bounds of the journal; zero Options fields take these.
const (
	DefaultJournalEntries = 10000
	DefaultJournalMaxAge  = 24 * time.Hour
	// DefaultJournalBytes bounds the replies the journal keeps (in memory
	// and, twice over at most, on disk): exec replies carry output.
	DefaultJournalBytes = 64 << 20
)

// JournalFile is the journal's file name inside Options.JournalDir.
const JournalFile = "executions.journal"

// A journal record on disk is a header of two little-endian uint32, the
// payload's length and its CRC-32C, and the payload, a JSON journalEntry.
// A crash may leave the last record torn: its checksum (or length) does
// not match, and it and anything after it are dropped on open.
const (
	journalHeader    = 8
	maxJournalRecord = 8 << 20 // larger than any reply the wire lets through
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// journalEntry is what the journal keeps of one attempt that ended.
type journalEntry struct {
	ExecutionID string          `json:"e"`
	Attempt     int             `json:"a"`
	Success     bool            `json:"s"`
	At          int64           `json:"t"` // Unix milliseconds
	Reply       json.RawMessage `json:"r"` // the reply sent, without its "id"
}

func (e journalEntry) key() string { return jobKey(e.ExecutionID, e.Attempt) }

// journal is the runner's bounded, durable memory of the attempts it
// ended: an append-only file, and an index of it in memory. A reply goes
// out only after its record is on disk (append returns), so a scheduler
// that lost the reply can be answered from here instead of the job
// running again.
//
// Appends are group-committed: the records of the jobs that end while
// one write and fsync is in progress are written and fsynced together by
// the next one, so under load a job costs a fraction of an fsync.
type journal struct {
	path   string
	max    int
	maxAge time.Duration
	now    func() time.Time

	mu       sync.Mutex
	cond     *sync.Cond // signalled when a batch is durable
	f        *os.File
	lock     *os.File // the directory, flocked
	index    map[string]journalEntry
	order    []string // keys, oldest first; index holds the live ones
	onDisk   int      // records in the file, live or not
	fileSize int64    // bytes of the file
	baseSize int64    // bytes of the file after the last compaction
	maxBytes int64    // bound of liveSize
	liveSize int64    // bytes of the replies in index
	cur      *journalBatch
	flushing bool
	closed   bool
	syncs    int // fsyncs of appends, under mu
	// logger, when set, hears of failed compactions.
	logger *slog.Logger
}

// journalBatch is the records of one write and fsync.
type journalBatch struct {
	entries []journalEntry
	done    bool
	err     error
}

// openJournal opens (or creates) the journal in dir and reads what it
// holds: a torn record at the end is dropped, records beyond the bounds
// are forgotten.
func openJournal(dir string, max int, maxAge time.Duration, now func() time.Time) (*journal, error) {
	if max <= 0 {
		max = DefaultJournalEntries
	}
	if maxAge <= 0 {
		maxAge = DefaultJournalMaxAge
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("journal %s: %w", dir, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	j := &journal{path: filepath.Join(dir, JournalFile), max: max, maxAge: maxAge, now: now,
		index: map[string]journalEntry{}, lock: lock, maxBytes: DefaultJournalBytes}
	j.cond = sync.NewCond(&j.mu)
	if err := j.open(); err != nil {
		if j.f != nil {
			j.f.Close()
		}
		lock.Close()
		return nil, fmt.Errorf("journal %s: %w", j.path, err)
	}
	return j, nil
}

// open reads the file into the index, cuts a torn tail so that new
// records follow the last good one, and compacts a file that holds far
// more than the index keeps.
func (j *journal) open() error {
	f, err := os.OpenFile(j.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	j.f = f
	good, err := j.load(f)
	if err != nil {
		return err
	}
	if err := f.Truncate(good); err != nil {
		return err
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		return err
	}
	j.fileSize = good
	j.evict()
	if j.oversized() || j.onDisk > 2*len(j.index)+1000 {
		return j.compact()
	}
	return nil
}

// lockDir takes an exclusive lock on dir for as long as the returned file
// is open: two processes appending to one journal would interleave their
// records, so the second is refused.
func lockDir(dir string) (*os.File, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", dir, err)
	}
	if err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		d.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("journal %s is in use by another process: give each handler its own journal directory (--journal): %w", dir, err)
		}
		return nil, fmt.Errorf("journal %s: lock: %w", dir, err)
	}
	return d, nil
}

// load reads the records of f and returns the offset after the last good
// one.
func (j *journal) load(f *os.File) (int64, error) {
	rd := bufio.NewReader(f)
	var off int64
	hdr := make([]byte, journalHeader)
	for {
		if _, err := io.ReadFull(rd, hdr); err != nil {
			return off, nil // the end, or a torn header
		}
		n := binary.LittleEndian.Uint32(hdr)
		sum := binary.LittleEndian.Uint32(hdr[4:])
		if n == 0 || n > maxJournalRecord {
			return off, nil
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(rd, payload); err != nil {
			return off, nil
		}
		if crc32.Checksum(payload, castagnoli) != sum {
			return off, nil
		}
		var e journalEntry
		if json.Unmarshal(payload, &e) != nil || e.ExecutionID == "" {
			return off, nil
		}
		off += journalHeader + int64(n)
		j.onDisk++
		j.put(e)
	}
}

// put indexes e; the caller holds j.mu (or owns j alone).
func (j *journal) put(e journalEntry) {
	k := e.key()
	if old, ok := j.index[k]; ok {
		j.liveSize -= int64(len(old.Reply))
	} else {
		j.order = append(j.order, k)
	}
	j.index[k] = e
	j.liveSize += int64(len(e.Reply))
}

// oversized reports whether the file holds more than twice the bounds,
// which compact brings back to the live entries; the caller holds j.mu.
// By bytes, the file must also have doubled since the last compaction,
// so that records larger than their replies cannot make every append
// compact.
func (j *journal) oversized() bool {
	return j.onDisk > 2*j.max || j.fileSize > 2*max(j.maxBytes, j.baseSize)
}

// evict forgets the oldest entries beyond the bounds; the caller holds j.mu.
func (j *journal) evict() {
	cutoff := j.now().Add(-j.maxAge).UnixMilli()
	drop := 0
	for drop < len(j.order) {
		e := j.index[j.order[drop]]
		if len(j.order)-drop <= j.max && e.At >= cutoff && j.liveSize <= j.maxBytes {
			break
		}
		delete(j.index, j.order[drop])
		j.liveSize -= int64(len(e.Reply))
		drop++
	}
	if drop > 0 {
		j.order = append(j.order[:0], j.order[drop:]...)
	}
}

// lookup returns the entry of an attempt the journal holds.
func (j *journal) lookup(key string) (journalEntry, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e, ok := j.index[key]
	return e, ok
}

// append makes e durable and returns once it is: the caller may then send
// the reply. Concurrent appends share one write and fsync.
func (j *journal) append(e journalEntry) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return errors.New("journal closed")
	}
	b := j.cur
	if b == nil {
		b = &journalBatch{}
		j.cur = b
	}
	b.entries = append(b.entries, e)
	for j.flushing && !b.done {
		j.cond.Wait()
	}
	if b.done {
		return b.err
	}
	// Lead: write the batch gathered so far (b is still j.cur) while later
	// appends gather the next one.
	j.flushing, j.cur = true, nil
	j.mu.Unlock()
	n, err := j.write(b.entries)
	j.mu.Lock()
	j.syncs++
	if err != nil && n > 0 {
		// Cut what a failed write left, or the next records would follow a
		// torn one and be dropped with it on open.
		if terr := j.f.Truncate(j.fileSize); terr == nil {
			_, _ = j.f.Seek(j.fileSize, io.SeekStart)
		}
	}
	if err == nil {
		j.fileSize += int64(n)
		for _, e := range b.entries {
			j.put(e)
		}
		j.onDisk += len(b.entries)
		j.evict()
		if j.oversized() {
			// The batch is durable whatever this says; a failed
			// compaction is tried again at the next append.
			if cerr := j.compact(); cerr != nil && j.logger != nil {
				j.logger.Warn("journal compaction failed; the file grows until it succeeds", "path", j.path, "err", cerr)
			}
		}
	}
	b.done, b.err = true, err
	j.flushing = false
	j.cond.Broadcast()
	return err
}

// write appends entries to the file and fsyncs it; only the batch's
// leader calls it.
func (j *journal) write(entries []journalEntry) (int, error) {
	buf, err := encodeRecords(nil, entries)
	if err != nil {
		return 0, err
	}
	n, err := j.f.Write(buf)
	if err != nil {
		return n, fmt.Errorf("journal %s: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return n, fmt.Errorf("journal %s: %w", j.path, err)
	}
	return n, nil
}

func encodeRecords(dst []byte, entries []journalEntry) ([]byte, error) {
	for _, e := range entries {
		p, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		if len(p) > maxJournalRecord {
			// load would take it for a torn record and drop what follows.
			return nil, fmt.Errorf("journal: the reply of %s attempt %d is %d bytes, over %d", e.ExecutionID, e.Attempt, len(p), maxJournalRecord)
		}
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(p)))
		dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(p, castagnoli))
		dst = append(dst, p...)
	}
	return dst, nil
}

// compact rewrites the file with the live entries only: to a temporary
// file, fsynced, renamed over the journal, and the directory fsynced, so
// that a crash at any point leaves the old file or the new one. The
// caller holds j.mu and is the only writer.
func (j *journal) compact() error {
	live := make([]journalEntry, 0, len(j.order))
	for _, k := range j.order {
		live = append(live, j.index[k])
	}
	buf, err := encodeRecords(nil, live)
	if err != nil {
		return err
	}
	tmp := j.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("journal compaction: %w", err)
	}
	if _, err := f.Write(buf); err != nil {
		f.Close()
		return fmt.Errorf("journal compaction %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("journal compaction %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, j.path); err != nil {
		f.Close()
		return fmt.Errorf("journal compaction: %w", err)
	}
	if d, err := os.Open(filepath.Dir(j.path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	j.f.Close()
	j.f = f // positioned at its end
	j.onDisk, j.fileSize, j.baseSize = len(live), int64(len(buf)), int64(len(buf))
	return nil
}

// close closes the file; later appends fail. A nil journal is none.
func (j *journal) close() error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for j.flushing {
		j.cond.Wait()
	}
	if j.closed {
		return nil
	}
	j.closed = true
	defer j.lock.Close()
	return j.f.Close()
}
