package checker

import (
	"strconv"
	"strings"
)

func firstNonNil[T any](ps ...*T) *T {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}

// ms renders nanoseconds as milliseconds with at most three decimals.
func ms(ns int64) string {
	s := strconv.FormatFloat(float64(ns)/1e6, 'f', 3, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// plural renders "1 thing was" or "2 things were".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// sessMS renders a time of the history in milliseconds, with its unit.
func sessMS(ns int64) string { return ms(ns) + " ms" }
