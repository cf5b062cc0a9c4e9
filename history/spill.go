package history

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The spill encoding of a record: compact binary for the fields client
// records carry, JSON for a record that has any other field. It is private
// to a Split and never outlives it.
const (
	spillValue   = 1 << iota // Value follows
	spillExpect              // Expect follows
	spillVersion             // Version follows
	spillJSON                // the whole record follows as JSON
)

// spillTypes numbers the record types; any other type spills as JSON.
var spillTypes = []Type{Invoke, OK, Fail, Info}

// spillWriter appends records to a spill file.
type spillWriter struct {
	w   *bufio.Writer
	buf []byte
}

// write appends op, filed under key.
func (s *spillWriter) write(key string, op *Op) error {
	b := appendBytes(s.buf[:0], []byte(key))
	typ := -1
	for i, t := range spillTypes {
		if op.Type == t {
			typ = i
		}
	}
	if typ < 0 || op.Path != "" || op.Values != nil || op.Zxids != nil || op.Event != "" ||
		op.Fault != nil || op.Roles != nil || op.Snapshot != nil || op.Metrics != nil {
		j, err := json.Marshal(op)
		if err != nil {
			return fmt.Errorf("encode record %d: %w", op.Index, err)
		}
		b = binary.AppendUvarint(b, spillJSON)
		b = appendBytes(b, j)
	} else {
		var flags uint64
		if op.Value != nil {
			flags |= spillValue
		}
		if op.Expect != nil {
			flags |= spillExpect
		}
		if op.Version != nil {
			flags |= spillVersion
		}
		b = binary.AppendUvarint(b, flags)
		b = binary.AppendVarint(b, op.Index)
		b = append(b, byte(typ))
		b = appendBytes(b, []byte(op.F))
		b = binary.AppendVarint(b, int64(op.Process))
		b = binary.AppendVarint(b, op.Time)
		b = appendBytes(b, []byte(op.Key))
		if op.Value != nil {
			b = binary.AppendVarint(b, *op.Value)
		}
		if op.Expect != nil {
			b = binary.AppendVarint(b, int64(*op.Expect))
		}
		if op.Version != nil {
			b = binary.AppendVarint(b, int64(*op.Version))
		}
		b = binary.AppendVarint(b, op.Zxid)
		b = appendBytes(b, []byte(op.Node))
		b = binary.AppendVarint(b, op.Session)
		b = appendBytes(b, []byte(op.Error))
	}
	s.buf = b
	if _, err := s.w.Write(b); err != nil {
		return fmt.Errorf("write spill: %w", err)
	}
	return nil
}

func appendBytes(b, s []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// spillReader reads back what a spillWriter wrote. It interns the strings
// records repeat (names, keys, nodes, errors), so a key's records share them.
type spillReader struct {
	data   []byte
	intern interner
}

// errSpillShort is a spill file cut short.
var errSpillShort = errors.New("read spill: a record is cut short")

// read decodes the next record into op and returns the key it was filed
// under; it returns io.EOF at the end.
func (s *spillReader) read(op *Op) (string, error) {
	if len(s.data) == 0 {
		return "", io.EOF
	}
	short := false
	uvarint := func() uint64 {
		v, n := binary.Uvarint(s.data)
		if n <= 0 {
			short = true
			return 0
		}
		s.data = s.data[n:]
		return v
	}
	varint := func() int64 { // zigzag, as binary.AppendVarint writes it
		u := uvarint()
		return int64(u>>1) ^ -int64(u&1)
	}
	raw := func() []byte {
		n := uvarint()
		if short || n > uint64(len(s.data)) {
			short = true
			return nil
		}
		b := s.data[:n]
		s.data = s.data[n:]
		return b
	}
	str := func() string { return s.intern.of(raw()) }
	key := str()
	flags := uvarint()
	if flags&spillJSON != 0 {
		b := raw()
		if short {
			return "", errSpillShort
		}
		if err := json.Unmarshal(b, op); err != nil {
			return "", fmt.Errorf("read spill: %w", err)
		}
		return key, nil
	}
	op.Index = varint()
	if len(s.data) == 0 {
		return "", errSpillShort
	}
	if typ := s.data[0]; int(typ) < len(spillTypes) {
		op.Type = spillTypes[typ]
	}
	s.data = s.data[1:]
	op.F = str()
	op.Process = Process(varint())
	op.Time = varint()
	op.Key = str()
	if flags&spillValue != 0 {
		op.Value = Int64(varint())
	}
	if flags&spillExpect != 0 {
		op.Expect = Int32(int32(varint()))
	}
	if flags&spillVersion != 0 {
		op.Version = Int32(int32(varint()))
	}
	op.Zxid = varint()
	op.Node = str()
	op.Session = varint()
	op.Error = str()
	if short {
		return "", errSpillShort
	}
	return key, nil
}
