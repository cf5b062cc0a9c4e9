package diskfs

import (
	"fmt"
	"math"
	"slices"
	"syscall"
)

// extent is a run of bytes written at off and not yet synced.
type extent struct {
	off  int64
	data []byte
}

func (e extent) end() int64 { return e.off + int64(len(e.data)) }

// overlay is what one file holds beyond its backing file: the bytes written
// and the truncations done since its last fsync. Its extents are sorted,
// neither overlapping nor touching, so that appends grow one extent. The
// caller serialises access (file.mu).
type overlay struct {
	// size is the file's size as readers see it.
	size int64
	// hide is where a truncation cut the backing file: backing bytes at
	// and past it read as zeros (math.MaxInt64: nothing cut).
	hide    int64
	extents []extent
}

// newOverlay starts the overlay of a file whose backing file holds size
// bytes.
func newOverlay(size int64) *overlay { return &overlay{size: size, hide: math.MaxInt64} }

// held is how many bytes the overlay keeps in memory.
func (o *overlay) held() int64 {
	var n int64
	for _, e := range o.extents {
		n += int64(len(e.data))
	}
	return n
}

// write records data written at off and returns how many bytes the
// overlay holds more (or, when it overwrote held bytes, fewer) than before.
func (o *overlay) write(off int64, data []byte) int64 {
	if len(data) == 0 {
		return 0
	}
	before := o.held()
	end := off + int64(len(data))
	o.size = max(o.size, end)
	// The common case, an append to the last extent, grows it in place.
	if n := len(o.extents); n > 0 && o.extents[n-1].end() == off {
		o.extents[n-1].data = append(o.extents[n-1].data, data...)
		return int64(len(data))
	}
	// The extents that overlap or touch [off, end) merge with it.
	lo := slices.IndexFunc(o.extents, func(e extent) bool { return e.end() >= off })
	if lo < 0 {
		lo = len(o.extents)
	}
	hi := lo
	for hi < len(o.extents) && o.extents[hi].off <= end {
		hi++
	}
	start, stop := off, end
	if hi > lo {
		start = min(start, o.extents[lo].off)
		stop = max(stop, o.extents[hi-1].end())
	}
	merged := make([]byte, stop-start)
	for _, e := range o.extents[lo:hi] {
		copy(merged[e.off-start:], e.data)
	}
	copy(merged[off-start:], data)
	o.extents = slices.Replace(o.extents, lo, hi, extent{off: start, data: merged})
	return o.held() - before
}

// truncate records a truncation to size and returns the change in held
// bytes (zero or negative).
func (o *overlay) truncate(size int64) int64 {
	before := o.held()
	if size < o.size {
		o.hide = min(o.hide, size)
		keep := o.extents[:0]
		for _, e := range o.extents {
			switch {
			case e.end() <= size:
				keep = append(keep, e)
			case e.off < size:
				keep = append(keep, extent{off: e.off, data: e.data[:size-e.off]})
			}
		}
		o.extents = keep
	}
	o.size = size
	return o.held() - before
}

// read fills buf with the file's bytes at off, backing bytes first (read
// with pread from fd, whose file holds backingSize bytes) and the overlay
// over them, and returns how many bytes the file has there.
func (o *overlay) read(fd int, backingSize int64, buf []byte, off int64) (int, error) {
	n := int(max(0, min(int64(len(buf)), o.size-off)))
	buf = buf[:n]
	visible := min(o.hide, backingSize)
	got := 0
	if off < visible {
		want := buf[:min(int64(n), visible-off)]
		for got < len(want) {
			m, err := syscall.Pread(fd, want[got:], off+int64(got))
			if err != nil {
				return 0, fmt.Errorf("read backing file: %w", err)
			}
			if m == 0 {
				break
			}
			got += m
		}
	}
	clear(buf[got:])
	for _, e := range o.extents {
		if e.end() <= off || e.off >= off+int64(n) {
			continue
		}
		from := max(e.off, off)
		copy(buf[from-off:], e.data[from-e.off:])
	}
	return n, nil
}

// apply writes the overlay to the backing file fd (whose file holds
// backingSize bytes) and syncs it; afterwards the overlay is clean.
func (o *overlay) apply(fd int, backingSize int64) error {
	if o.hide < backingSize {
		if err := syscall.Ftruncate(fd, o.hide); err != nil {
			return fmt.Errorf("truncate backing file: %w", err)
		}
		backingSize = o.hide
	}
	if o.size != backingSize {
		if err := syscall.Ftruncate(fd, o.size); err != nil {
			return fmt.Errorf("resize backing file: %w", err)
		}
	}
	for _, e := range o.extents {
		for done := 0; done < len(e.data); {
			m, err := syscall.Pwrite(fd, e.data[done:], e.off+int64(done))
			if err != nil {
				return fmt.Errorf("write backing file: %w", err)
			}
			done += m
		}
	}
	if err := syscall.Fdatasync(fd); err != nil {
		return fmt.Errorf("sync backing file: %w", err)
	}
	o.extents, o.hide = nil, math.MaxInt64
	return nil
}
