package history

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// Limits on what the EDN reader accepts. The EDN decoder recurses once per
// level of nesting, so an unbounded depth is a crash waiting for a hostile
// file; a Jepsen operation nests three or four levels deep.
const (
	// MaxEDNDepth is the deepest nesting accepted inside one record.
	MaxEDNDepth = 64
	// MaxEDNRecord is the largest record accepted, in bytes.
	MaxEDNRecord = 4 << 20
)

// ednRecord is the text of one top-level record and where it starts.
type ednRecord struct {
	text []byte
	line int
}

// ednScanner splits an EDN stream into its records without decoding them: a
// sequence of top-level forms, or the elements of one top-level vector or
// list. It knows just enough EDN to find where a form ends (strings,
// characters, comments, brackets), which lets the reader bound nesting and
// size before the decoder sees a byte, and name the line of every record.
type ednScanner struct {
	r    *bufio.Reader
	line int // line of the next byte
	// wrapper is the closing bracket of the top-level vector or list being
	// read, or 0 outside one.
	wrapper byte
	// wrapperLine is where the wrapper opened.
	wrapperLine int
}

func newEDNScanner(r io.Reader) *ednScanner {
	return &ednScanner{r: bufio.NewReaderSize(r, 64<<10), line: 1}
}

// errEDNEnd ends the stream.
var errEDNEnd = errors.New("end of EDN stream")

// readByte returns the next byte, counting lines.
func (s *ednScanner) readByte() (byte, error) {
	b, err := s.r.ReadByte()
	if err == nil && b == '\n' {
		s.line++
	}
	return b, err
}

func isEDNSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == ','
}

func isEDNDelimiter(b byte) bool {
	switch b {
	case '(', ')', '[', ']', '{', '}', '"', ';':
		return true
	}
	return isEDNSpace(b)
}

func closerOf(open byte) byte {
	switch open {
	case '(':
		return ')'
	case '[':
		return ']'
	}
	return '}'
}

// skipComment reads up to the end of the line.
func (s *ednScanner) skipComment() error {
	for {
		b, err := s.readByte()
		if err != nil || b == '\n' {
			return err
		}
	}
}

// peek returns the next byte without reading it.
func (s *ednScanner) peek() (byte, error) {
	b, err := s.r.Peek(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

// skipSpace reads whitespace and comments.
func (s *ednScanner) skipSpace() error {
	for {
		b, err := s.peek()
		if err != nil {
			return err
		}
		switch {
		case isEDNSpace(b):
			s.readByte()
		case b == ';':
			if err := s.skipComment(); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// next returns the next record, or errEDNEnd after the last one.
func (s *ednScanner) next() (ednRecord, error) {
	for {
		if err := s.skipSpace(); err != nil && err != io.EOF {
			return ednRecord{}, fmt.Errorf("line %d: %w", s.line, err)
		}
		b, err := s.peek()
		if err == io.EOF {
			if s.wrapper != 0 {
				return ednRecord{}, fmt.Errorf("line %d: the top-level %q opened there is not closed before the end of the file", s.wrapperLine, s.wrapper)
			}
			return ednRecord{}, errEDNEnd
		}
		if err != nil {
			return ednRecord{}, fmt.Errorf("line %d: %w", s.line, err)
		}
		switch {
		case s.wrapper == 0 && (b == '[' || b == '('):
			s.readByte()
			s.wrapper, s.wrapperLine = closerOf(b), s.line
			continue
		case s.wrapper != 0 && b == s.wrapper:
			s.readByte()
			s.wrapper = 0
			continue
		}
		rec := ednRecord{line: s.line}
		if err := s.readForm(&rec, 0); err != nil {
			return rec, err
		}
		return rec, nil
	}
}

// add appends b to the record, within the size limit.
func (s *ednScanner) add(rec *ednRecord, b byte) error {
	if len(rec.text) >= MaxEDNRecord {
		return fmt.Errorf("line %d: the record starting there is larger than %d bytes", rec.line, MaxEDNRecord)
	}
	rec.text = append(rec.text, b)
	return nil
}

// readForm copies one complete form into rec: a collection, a string, an
// atom, or a tag or a discard (#_) with the form it applies to. depth is the
// nesting of the form within the record.
func (s *ednScanner) readForm(rec *ednRecord, depth int) error {
	if depth > MaxEDNDepth {
		return fmt.Errorf("line %d: the record starting on line %d nests deeper than %d levels", s.line, rec.line, MaxEDNDepth)
	}
	if err := s.skipSpace(); err != nil && err != io.EOF {
		return fmt.Errorf("line %d: %w", s.line, err)
	}
	b, err := s.readByte()
	if err != nil {
		return fmt.Errorf("line %d: the record starting on line %d is cut short by the end of the file", s.line, rec.line)
	}
	if err := s.add(rec, b); err != nil {
		return err
	}
	switch b {
	case '(', '[', '{':
		return s.readCollection(rec, closerOf(b), depth+1)
	case ')', ']', '}':
		return fmt.Errorf("line %d: %q closes nothing", s.line, b)
	case '"':
		return s.readString(rec)
	case '\\':
		// A character literal: the next byte is data, whatever it is.
		c, err := s.readByte()
		if err != nil {
			return fmt.Errorf("line %d: the file ends inside a character literal", s.line)
		}
		if err := s.add(rec, c); err != nil {
			return err
		}
		return s.readAtom(rec)
	case '#':
		c, err := s.peek()
		if err != nil {
			return fmt.Errorf("line %d: the file ends after '#'", s.line)
		}
		switch c {
		case '{':
			s.readByte()
			if err := s.add(rec, c); err != nil {
				return err
			}
			return s.readCollection(rec, '}', depth+1)
		case '_':
			// A discarded form: the decoder drops it.
			s.readByte()
			if err := s.add(rec, c); err != nil {
				return err
			}
			if err := s.add(rec, ' '); err != nil {
				return err
			}
			return s.readForm(rec, depth+1)
		default:
			// A tag, then the tagged form.
			if err := s.readAtom(rec); err != nil {
				return err
			}
		}
		if err := s.add(rec, ' '); err != nil {
			return err
		}
		return s.readForm(rec, depth+1)
	}
	return s.readAtom(rec)
}

// readAtom copies the rest of an atom, up to the next delimiter.
func (s *ednScanner) readAtom(rec *ednRecord) error {
	for {
		b, err := s.peek()
		if err == io.EOF || (err == nil && isEDNDelimiter(b)) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", s.line, err)
		}
		s.readByte()
		if err := s.add(rec, b); err != nil {
			return err
		}
	}
}

// readCollection copies forms up to the closing bracket.
func (s *ednScanner) readCollection(rec *ednRecord, closer byte, depth int) error {
	if depth > MaxEDNDepth {
		return fmt.Errorf("line %d: the record starting on line %d nests deeper than %d levels", s.line, rec.line, MaxEDNDepth)
	}
	for {
		if err := s.skipSpace(); err != nil && err != io.EOF {
			return fmt.Errorf("line %d: %w", s.line, err)
		}
		b, err := s.peek()
		if err != nil {
			return fmt.Errorf("line %d: the record starting on line %d is not closed before the end of the file (expected %q)", s.line, rec.line, closer)
		}
		switch b {
		case closer:
			s.readByte()
			return s.add(rec, b)
		case ')', ']', '}':
			return fmt.Errorf("line %d: %q where %q was expected, in the record starting on line %d", s.line, b, closer, rec.line)
		}
		if err := s.readForm(rec, depth); err != nil {
			return err
		}
		if err := s.add(rec, ' '); err != nil {
			return err
		}
	}
}

// readString copies the rest of a string literal, up to its closing quote.
func (s *ednScanner) readString(rec *ednRecord) error {
	start := s.line
	for {
		b, err := s.readByte()
		if err != nil {
			return fmt.Errorf("line %d: the string opened there is not closed before the end of the file", start)
		}
		if err := s.add(rec, b); err != nil {
			return err
		}
		switch b {
		case '"':
			return nil
		case '\\':
			c, err := s.readByte()
			if err != nil {
				return fmt.Errorf("line %d: the string opened there is not closed before the end of the file", start)
			}
			if err := s.add(rec, c); err != nil {
				return err
			}
		}
	}
}
