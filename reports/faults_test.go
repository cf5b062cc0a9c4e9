package reports

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/zkchaos/zkchaos/history"
)

func sec(s float64) int64 { return int64(s * float64(time.Second)) }

func nem(typ history.Type, f string, at float64, name string, targets ...string) history.Op {
	return history.Op{Type: typ, F: f, Process: history.NemesisProcess, Time: sec(at),
		Fault: &history.Fault{Name: name, Targets: targets}}
}

func client(typ history.Type, at float64) history.Op {
	return history.Op{Type: typ, F: history.Write, Process: 1, Time: sec(at)}
}

func TestBucketSecondsKeepsTheTimelineWithin600Buckets(t *testing.T) {
	for _, d := range []time.Duration{0, time.Second, 10 * time.Minute, time.Hour, 24 * time.Hour, 30 * 24 * time.Hour} {
		bw := bucketSeconds(d)
		assert.GreaterOrEqual(t, bw, int64(1))
		assert.LessOrEqual(t, int(d.Seconds()/float64(bw))+1, maxBuckets+1, "duration %v, bucket %d s", d, bw)
	}
	assert.Equal(t, int64(1), bucketSeconds(5*time.Minute), "short runs are drawn per second")
}
