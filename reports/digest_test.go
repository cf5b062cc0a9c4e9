package reports

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestSketchIsExactWhileSmallAndWithinItsBucketsAfter(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{10, 1000, 100_000} {
		sk := newSketch(1000)
		ds := make([]time.Duration, n)
		for i := range ds {
			ds[i] = time.Duration(rng.ExpFloat64() * float64(time.Millisecond))
			sk.add(int64(ds[i]))
		}
		want, got := QuantilesOf(slices.Clone(ds)), sk.quantiles()
		if n <= 1000 {
			assert.Equal(t, want, got)
			continue
		}
		assert.Less(t, len(sk.hist), 1024, "a histogram, not the values")
		assert.Equal(t, want.Count, got.Count)
		assert.Equal(t, want.Max, got.Max)
		for _, p := range [][2]time.Duration{{want.P50, got.P50}, {want.P90, got.P90}, {want.P99, got.P99}} {
			assert.InEpsilon(t, float64(p[0]), float64(p[1]), 0.02)
		}
	}
}

func TestSketchesMergeAsOne(t *testing.T) {
	a, b, all := newSketch(100), newSketch(100), newSketch(100)
	for i := range 300 {
		v := int64(i) * int64(time.Microsecond)
		all.add(v)
		if i%3 == 0 {
			a.add(v)
		} else {
			b.add(v)
		}
	}
	a.merge(b)
	assert.Equal(t, all.quantiles(), a.quantiles())
}
