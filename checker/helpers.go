package checker

import (
	"strconv"
	"strings"
)

// Small helpers that several checkers share: for the records of a call, and
// for the words of their messages.

// FirstNonNil returns the first of ps that is not nil, or nil: e.g. the
// value of a call, from its invocation or else its completion.
func FirstNonNil[T any](ps ...*T) *T {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}

// Millis renders nanoseconds as milliseconds with at most three decimals.
func Millis(ns int64) string {
	s := strconv.FormatFloat(float64(ns)/1e6, 'f', 3, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// Plural renders "1 thing was" or "2 things were".
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// MillisWithUnit renders a time of the history in milliseconds, with its unit.
func MillisWithUnit(ns int64) string { return Millis(ns) + " ms" }
