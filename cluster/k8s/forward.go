package k8s

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// forward keeps a loopback port forwarded to one pod's port, as kubectl
// port-forward does, and forwards it again on the same local port when the
// connection to the pod is lost (the pod was killed, deleted or
// recreated). While it is down, connections to the port are refused, as a
// dead server's would be.
type forward struct {
	addr   string
	cancel context.CancelFunc
	done   chan struct{}
}

// startForward forwards a free loopback port to the pod's port and keeps
// it forwarded until stop.
func startForward(ctx context.Context, cl Clients, namespace, pod string, port int, log *slog.Logger) (*forward, error) {
	url := cl.Clientset.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(cl.REST)
	if err != nil {
		return nil, fmt.Errorf("port-forward to %s: %w", pod, err)
	}
	spdyDialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
	wsDialer, err := portforward.NewSPDYOverWebsocketDialer(url, cl.REST)
	if err != nil {
		return nil, fmt.Errorf("port-forward to %s: %w", pod, err)
	}
	// As kubectl does: websockets first, SPDY from servers that refuse them.
	dialer := portforward.NewFallbackDialer(wsDialer, spdyDialer, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})

	once := func(local int) (*portforward.PortForwarder, chan struct{}, error) {
		stop, ready := make(chan struct{}), make(chan struct{})
		pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("%d:%d", local, port)}, stop, ready, io.Discard, io.Discard)
		return pf, stop, err
	}
	pf, stop, err := once(0)
	if err != nil {
		return nil, fmt.Errorf("port-forward to %s: %w", pod, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- pf.ForwardPorts() }()
	select {
	case <-pf.Ready:
	case err := <-errc:
		return nil, fmt.Errorf("port-forward to %s: %w", pod, err)
	case <-ctx.Done():
		close(stop)
		return nil, fmt.Errorf("port-forward to %s: %w", pod, ctx.Err())
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) != 1 {
		close(stop)
		return nil, fmt.Errorf("port-forward to %s: no local port: %v", pod, err)
	}
	local := int(ports[0].Local)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f := &forward{addr: "127.0.0.1:" + strconv.Itoa(local), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		for {
			select {
			case err := <-errc:
				if runCtx.Err() != nil {
					return
				}
				log.Debug("port-forward lost, forwarding again", "pod", pod, "err", err)
			case <-runCtx.Done():
				close(stop)
				<-errc
				return
			}
			// Forward again on the same port, at most a few times a second,
			// until the pod is back or the ensemble is closed.
			for {
				select {
				case <-runCtx.Done():
					return
				case <-time.After(250 * time.Millisecond):
				}
				var perr error
				pf, stop, perr = once(local)
				if perr != nil {
					continue
				}
				go func() { errc <- pf.ForwardPorts() }()
				break
			}
		}
	}()
	return f, nil
}

// stop ends the forwarding and waits for it.
func (f *forward) stop() {
	f.cancel()
	<-f.done
}
