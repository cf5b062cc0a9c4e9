package workloads

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestPaceSurvivesExtremeRates: a rate so low that the interval between
// two operations overflows a Duration, or one too odd to mean anything,
// never panics; the worker waits (at most a year) or runs unpaced, and
// stops with its context.
func TestPaceSurvivesExtremeRates(t *testing.T) {
	for _, rate := range []float64{1e-9, 1e-300, math.SmallestNonzeroFloat64, math.Inf(1), math.NaN(), -1} {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		steps := 0
		err := Pace(ctx, Env{Workers: 64, Rate: rate}, rand.New(rand.NewPCG(1, 2)), func() error {
			steps++
			return nil
		})
		cancel()
		assert.NoError(t, err, "rate %g", rate)
		if rate > 0 && rate < 1 {
			assert.Zero(t, steps, "rate %g: no operation before the first interval", rate)
		}
	}
	assert.Equal(t, maxInterval, interval(Env{Workers: 1000, Rate: 1e-9}))
	assert.Equal(t, 20*time.Millisecond, interval(Env{Workers: 3, Rate: 150}))
	assert.Zero(t, interval(Env{Workers: 3, Rate: math.Inf(1)}), "unpaced")
}

func TestDataThatIsNotAnElementReadsAsNeverWritten(t *testing.T) {
	assert.Equal(t, int64(42), ParseElement("42"))
	for _, d := range []string{"", "0", "-3", "4x", " 4"} {
		assert.Equal(t, int64(-1), ParseElement(d), "%q", d)
	}
}
