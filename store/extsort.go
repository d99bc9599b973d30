package store

import (
	"bufio"
	"bytes"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// keySorter sorts byte strings in bounded memory, for the index build: keys accumulate in one
// arena up to budget bytes (8 more per key for their bookkeeping); a full arena is sorted and written to a temporary file as a run,
// and sorted() merges the runs. When everything fits in one arena nothing touches the disk.
// Runs are derived data: they are never fsynced, and a crash only leaves a directory that the
// next build removes (see removeStaleBuildDirs).
type keySorter struct {
	mkdir  func() (string, error) // creates the directory for runs, on the first spill
	dir    string
	budget int
	arena  []byte
	spans  []keySpan
	runs   []string
	open   []*os.File
}

type keySpan struct{ from, to uint32 }

func newKeySorter(budget int, mkdir func() (string, error)) *keySorter {
	return &keySorter{budget: budget, mkdir: mkdir}
}

// add copies k into the sorter.
func (s *keySorter) add(k []byte) error {
	if len(s.arena)+len(k)+8*(len(s.spans)+1) > s.budget && len(s.spans) > 0 {
		if err := s.spill(); err != nil {
			return err
		}
	}
	if s.arena == nil {
		s.arena = make([]byte, 0, s.budget)
	}
	from := uint32(len(s.arena))
	s.arena = append(s.arena, k...)
	s.spans = append(s.spans, keySpan{from, uint32(len(s.arena))})
	return nil
}

func (s *keySorter) key(sp keySpan) []byte { return s.arena[sp.from:sp.to] }

func (s *keySorter) sortArena() {
	slices.SortFunc(s.spans, func(a, b keySpan) int { return bytes.Compare(s.key(a), s.key(b)) })
}

// spill writes the arena, sorted, as a run file and empties it.
func (s *keySorter) spill() error {
	if s.dir == "" {
		d, err := s.mkdir()
		if err != nil {
			return fmt.Errorf("cannot create a directory for sorted runs: %w", err)
		}
		s.dir = d
	}
	s.sortArena()
	path := filepath.Join(s.dir, fmt.Sprintf("run-%04d", len(s.runs)))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("cannot write sorted run: %w", err)
	}
	w := bufio.NewWriterSize(f, 256<<10)
	var lb [binary.MaxVarintLen32]byte
	for _, sp := range s.spans {
		k := s.key(sp)
		_, _ = w.Write(lb[:binary.PutUvarint(lb[:], uint64(len(k)))])
		_, _ = w.Write(k)
	}
	err = w.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cannot write sorted run %s: %w", path, err)
	}
	s.runs = append(s.runs, path)
	s.arena, s.spans = s.arena[:0], s.spans[:0]
	return nil
}

// keyIter yields keys in order; a key is valid until the next call.
type keyIter interface {
	next() ([]byte, bool, error)
}

// sorted ends adding and returns the keys in order.
func (s *keySorter) sorted() (keyIter, error) {
	if len(s.runs) == 0 {
		s.sortArena()
		return &arenaIter{s: s}, nil
	}
	if len(s.spans) > 0 {
		if err := s.spill(); err != nil {
			return nil, err
		}
	}
	s.arena, s.spans = nil, nil
	m := &mergeIter{}
	for _, path := range s.runs {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("cannot read sorted run: %w", err)
		}
		s.open = append(s.open, f)
		r := &runReader{r: bufio.NewReaderSize(f, 64<<10)}
		ok, err := r.read()
		if err != nil {
			return nil, err
		}
		if ok {
			m.h = append(m.h, r)
		}
	}
	heap.Init(&m.h)
	return m, nil
}

// close removes the runs; the sorter is unusable afterwards.
func (s *keySorter) close() {
	for _, f := range s.open {
		_ = f.Close()
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
	s.arena, s.spans, s.open = nil, nil, nil
}

type arenaIter struct {
	s *keySorter
	i int
}

func (it *arenaIter) next() ([]byte, bool, error) {
	if it.i >= len(it.s.spans) {
		return nil, false, nil
	}
	it.i++
	return it.s.key(it.s.spans[it.i-1]), true, nil
}

// runReader reads one run file: uvarint length, then the key.
type runReader struct {
	r   *bufio.Reader
	cur []byte
}

func (r *runReader) read() (bool, error) {
	n, err := binary.ReadUvarint(r.r)
	if errors.Is(err, io.EOF) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cannot read sorted run: %w", err)
	}
	if cap(r.cur) < int(n) {
		r.cur = make([]byte, n, max(int(n), 64))
	}
	r.cur = r.cur[:n]
	if _, err := io.ReadFull(r.r, r.cur); err != nil {
		return false, fmt.Errorf("cannot read sorted run: %w", err)
	}
	return true, nil
}

type readerHeap []*runReader

func (h readerHeap) Len() int           { return len(h) }
func (h readerHeap) Less(i, j int) bool { return bytes.Compare(h[i].cur, h[j].cur) < 0 }
func (h readerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *readerHeap) Push(x any)        { *h = append(*h, x.(*runReader)) }
func (h *readerHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	*h = old[:len(old)-1]
	return r
}

// mergeIter merges run files; the key it returns is copied out of its reader.
type mergeIter struct {
	h   readerHeap
	out []byte
}

func (m *mergeIter) next() ([]byte, bool, error) {
	if m.h.Len() == 0 {
		return nil, false, nil
	}
	r := m.h[0]
	m.out = append(m.out[:0], r.cur...)
	ok, err := r.read()
	if err != nil {
		return nil, false, err
	}
	if ok {
		heap.Fix(&m.h, 0)
	} else {
		heap.Pop(&m.h)
	}
	return m.out, true, nil
}
