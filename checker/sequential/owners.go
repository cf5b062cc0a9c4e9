package sequential

import (
	"container/list"
	"encoding/binary"
	"fmt"
	"os"
)

// ownerPageLen is how many consecutive zxids one page of owners holds (a
// power of two, 1 << ownerPageShift), and ownerPageBytes its size in the
// file.
const (
	ownerPageShift = 10
	ownerPageLen   = 1 << ownerPageShift
	ownerPageBytes = 4 * ownerPageLen
)

// ownerPagesHeld is how many pages of owners stay in memory (1 MiB): the
// latest transactions', which the observations of a run mostly name.
const ownerPagesHeld = 256

// owners maps each zxid to the key that first observed it, in pages of
// consecutive zxids: ZooKeeper's zxids count up within an epoch, so pages
// fill and cost four bytes a transaction. The pages used last stay in
// memory and the others wait in a file, so that memory does not grow with
// the run.
type owners struct {
	// create makes the file on the first page that leaves memory.
	create func() (*os.File, error)
	file   *os.File
	held   map[int64]*ownerPage // by page number
	recent *list.List           // of *ownerPage, the last used first
	placed map[int64]int64      // page number -> its offset in the file, once written
	buf    [ownerPageBytes]byte
}

// ownerPage holds the owners of ownerPageLen consecutive zxids, 0 for none.
type ownerPage struct {
	number int64
	keys   [ownerPageLen]uint32
	dirty  bool // changed since it was last written
	at     *list.Element
}

func newOwners(create func() (*os.File, error)) *owners {
	return &owners{create: create, held: map[int64]*ownerPage{}, recent: list.New(), placed: map[int64]int64{}}
}

// claim makes key the owner of zxid z unless it has one, and returns the
// owner.
func (w *owners) claim(z int64, key uint32) (uint32, error) {
	page, err := w.page(z >> ownerPageShift) // floored, for any zxid a history holds
	if err != nil {
		return 0, err
	}
	slot := &page.keys[z&(ownerPageLen-1)]
	if *slot == 0 {
		*slot, page.dirty = key, true
	}
	return *slot, nil
}

// page returns page number n, read back from the file or new.
func (w *owners) page(n int64) (*ownerPage, error) {
	if p := w.held[n]; p != nil {
		w.recent.MoveToFront(p.at)
		return p, nil
	}
	var p *ownerPage
	if len(w.held) < ownerPagesHeld {
		p = &ownerPage{number: n}
	} else {
		last := w.recent.Back()
		p = last.Value.(*ownerPage) // the page used longest ago makes room
		if err := w.write(p); err != nil {
			return nil, err
		}
		w.recent.Remove(last)
		delete(w.held, p.number)
		*p = ownerPage{number: n}
	}
	if off, ok := w.placed[n]; ok {
		if _, err := w.file.ReadAt(w.buf[:], off); err != nil {
			return nil, fmt.Errorf("read owners of zxids: %w", err)
		}
		for i := range p.keys {
			p.keys[i] = binary.LittleEndian.Uint32(w.buf[4*i:])
		}
	}
	p.at = w.recent.PushFront(p)
	w.held[n] = p
	return p, nil
}

// write puts p in the file, if it changed since it was last put there.
func (w *owners) write(p *ownerPage) error {
	if !p.dirty {
		return nil
	}
	if w.file == nil {
		f, err := w.create()
		if err != nil {
			return err
		}
		w.file = f
	}
	off, ok := w.placed[p.number]
	if !ok {
		off = int64(len(w.placed)) * ownerPageBytes
		w.placed[p.number] = off
	}
	for i, k := range p.keys {
		binary.LittleEndian.PutUint32(w.buf[4*i:], k)
	}
	if _, err := w.file.WriteAt(w.buf[:], off); err != nil {
		return fmt.Errorf("write owners of zxids: %w", err)
	}
	p.dirty = false
	return nil
}
