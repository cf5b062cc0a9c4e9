package browse

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkchaos/zkchaos/checker"
)

// TestIndexInABrowserUnderItsPolicy opens the index in headless Chromium
// (skipped where it is not installed, as in reports): under the browser's
// content security policy its styles apply, and ticking runs as A and B
// and submitting leads to their comparison, with nothing refused.
func TestIndexInABrowserUnderItsPolicy(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("%s is not installed: the index is not tested in a browser", chromium)
	}
	root := t.TempDir()
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	makeRun(t, root, "smoke", t0, checker.Valid)
	makeRun(t, root, "smoke", t0.Add(time.Minute), checker.Invalid)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &Server{Root: root, Compare: func(_ context.Context, _ fs.FS, a, b []string, w io.Writer) error {
		_, err := fmt.Fprintf(w, "<!DOCTYPE html><p id=compared>%s against %s</p>", strings.Join(b, " "), strings.Join(a, " "))
		return err
	}}
	go func() { _ = s.Serve(ctx, ln) }()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.UserDataDir(t.TempDir()))
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(alloc)
	defer cancelTab()
	tab, cancelTimeout := context.WithTimeout(tab, 60*time.Second)
	defer cancelTimeout()
	require.NoError(t, chromedp.Do(tab), "start %s", chromium)
	var mu sync.Mutex
	var problems []string
	require.NoError(t, chromedp.Listen(tab, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError && !strings.HasSuffix(e.Entry.URL, "/favicon.ico") {
				problems = append(problems, e.Entry.Text)
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, e.ExceptionDetails.Text)
		}
	}))
	require.NoError(t, chromedp.Do(tab, chromedp.Navigate("http://"+ln.Addr().String()+"/"), chromedp.WaitVisible(chromedp.CSS("#runs"))))
	colour, err := chromedp.Run(tab, chromedp.Evaluate[string](`getComputedStyle(document.querySelector('.badge.invalid')).backgroundColor`))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(tab,
		chromedp.Click(chromedp.CSS(`tr.valid input[name=a]`)),
		chromedp.Click(chromedp.CSS(`tr.invalid input[name=b]`)),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#compared")),
	))
	compared, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("#compared")))
	require.NoError(t, err)
	assert.Equal(t, "rgb(207, 34, 46)", colour, "the inline style sheet applies")
	assert.Contains(t, compared, "against scenariosmoke/20261125T090000Z", "the form reached the comparison")
	mu.Lock()
	defer mu.Unlock()
	assert.Empty(t, problems, "nothing refused or failed")
}
