package k8stest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// echoServer serves TCP echo on 127.0.0.1 until the test ends: it sends back
// what it reads, and closes once the client has half-closed.
func echoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			})
		}
	})
	return ln.Addr().String()
}

// podPorts is a kubelet's dial: it connects port 7 of the pods it knows to
// their addresses, refuses the rest, and records what it was asked.
type podPorts struct {
	addrs map[string]string // pod → address of its port 7
	mu    sync.Mutex
	calls []string
}

func (p *podPorts) dial(ctx context.Context, pod string, port int32) (net.Conn, error) {
	p.mu.Lock()
	p.calls = append(p.calls, fmt.Sprintf("%s:%d", pod, port))
	p.mu.Unlock()
	addr, ok := p.addrs[pod]
	if !ok || port != 7 {
		return nil, fmt.Errorf("nothing listens on port %d of %s", port, pod)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

func (p *podPorts) called() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.calls)
}

// dialers are the two ways kubectl port-forward dials: over websockets,
// which kube-apiserver tunnels to the kubelet as SPDY, and over SPDY, which
// it proxies as it is.
var dialers = []string{"websocket", "spdy"}

// startPortForward forwards a free loopback port to the pod's port through
// the API server, as kubectl port-forward does, and returns the local
// address and the channel that ForwardPorts's result arrives on. The
// forward stops when the test ends.
func startPortForward(t *testing.T, cfg *rest.Config, ns, pod string, port int, how string) (string, <-chan error) {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	url := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("portforward").URL()
	var dialer httpstream.Dialer
	switch how {
	case "websocket":
		dialer, err = portforward.NewSPDYOverWebsocketDialer(url, cfg)
		require.NoError(t, err)
	case "spdy":
		transport, upgrader, err := spdy.RoundTripperFor(cfg)
		require.NoError(t, err)
		dialer = spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
	default:
		t.Fatalf("no dialer %q", how)
	}
	stop, ready := make(chan struct{}), make(chan struct{})
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, stop, ready, io.Discard, io.Discard)
	require.NoError(t, err)
	errc := make(chan error, 1)
	done := make(chan error, 1)
	go func() {
		err := pf.ForwardPorts()
		errc <- err
		done <- err
	}()
	t.Cleanup(func() {
		close(stop)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the port-forward did not stop")
		}
	})
	select {
	case <-ready:
	case err := <-errc:
		t.Fatalf("port-forward to %s/%s: %v", ns, pod, err)
	case <-time.After(opTimeout):
		t.Fatalf("port-forward to %s/%s: not ready after %v", ns, pod, opTimeout)
	}
	ports, err := pf.GetPorts()
	require.NoError(t, err)
	require.Len(t, ports, 1)
	return fmt.Sprintf("127.0.0.1:%d", ports[0].Local), errc
}

// echo sends msg through addr, half-closes and returns what comes back.
func echo(t *testing.T, addr, msg string) (string, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		return "", err
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return "", err
	}
	got, err := io.ReadAll(c)
	return string(got), err
}

func TestKubeletServesPortForwardThroughTheAPIServer(t *testing.T) {
	env := Start(t)
	ns := env.Namespace(t)
	pods := &podPorts{addrs: map[string]string{"echo-0": echoServer(t)}}
	k := env.StartKubelet(t, pods.dial)
	pod := env.ReadyPodOn(t, k.Node, ns, "echo-0", map[string]string{"app": "echo"}, "127.0.0.50")
	assert.Equal(t, k.Node, pod.Spec.NodeName)

	for _, how := range dialers {
		t.Run(how, func(t *testing.T) {
			addr, errc := startPortForward(t, env.Config, ns, "echo-0", 7, how)
			// Several connections over the one forward, one after the other
			// and at once.
			got, err := echo(t, addr, "hello through "+how)
			require.NoError(t, err)
			assert.Equal(t, "hello through "+how, got)
			var wg sync.WaitGroup
			for i := range 4 {
				wg.Go(func() {
					msg := fmt.Sprintf("%s stream %d %s", how, i, make([]byte, 64<<10))
					got, err := echo(t, addr, msg)
					assert.NoError(t, err)
					assert.Equal(t, msg, got)
				})
			}
			wg.Wait()
			select {
			case err := <-errc:
				t.Fatalf("the port-forward ended: %v", err)
			default:
			}
		})
	}
	for _, c := range pods.called() {
		assert.Equal(t, "echo-0:7", c, "dial is given the pod's name and the port asked for")
	}
	assert.Len(t, pods.called(), 2*5)
	assert.Equal(t, 2, k.Forwards(ns, "echo-0"), "one port-forward request per dialer, carrying every connection")
}

func TestKubeletDialErrorFailsTheStream(t *testing.T) {
	env := Start(t)
	ns := env.Namespace(t)
	pods := &podPorts{addrs: map[string]string{}}
	k := env.StartKubelet(t, pods.dial)
	env.ReadyPodOn(t, k.Node, ns, "dead-0", nil, "127.0.0.51")

	for _, how := range dialers {
		t.Run(how, func(t *testing.T) {
			addr, errc := startPortForward(t, env.Config, ns, "dead-0", 7, how)
			// The local port accepts, but the stream fails: the connection
			// ends with nothing read, and client-go gives the forward up.
			got, err := echo(t, addr, "anyone there?")
			assert.Empty(t, got)
			if err != nil {
				assert.True(t, errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err), "%v", err)
			}
			select {
			case err := <-errc:
				assert.ErrorIs(t, err, portforward.ErrLostConnectionToPod)
			case <-time.After(10 * time.Second):
				t.Fatal("the port-forward went on after its stream failed")
			}
		})
	}
	assert.Equal(t, []string{"dead-0:7", "dead-0:7"}, pods.called())
}

func TestKubeletFailsStreamsOfADeletedPod(t *testing.T) {
	env := Start(t)
	ns := env.Namespace(t)
	pods := &podPorts{addrs: map[string]string{"gone-0": echoServer(t)}}
	k := env.StartKubelet(t, pods.dial)
	env.ReadyPodOn(t, k.Node, ns, "gone-0", nil, "127.0.0.54")
	addr, errc := startPortForward(t, env.Config, ns, "gone-0", 7, "websocket")
	got, err := echo(t, addr, "before")
	require.NoError(t, err)
	assert.Equal(t, "before", got)

	// Deleted and created again: the forward to the old pod fails, a new
	// one reaches the new pod.
	zero := int64(0)
	require.NoError(t, env.Clientset.CoreV1().Pods(ns).Delete(t.Context(), "gone-0", metav1.DeleteOptions{GracePeriodSeconds: &zero}))
	env.ReadyPodOn(t, k.Node, ns, "gone-0", nil, "127.0.0.54")
	got, _ = echo(t, addr, "after")
	assert.Empty(t, got)
	select {
	case err := <-errc:
		assert.ErrorIs(t, err, portforward.ErrLostConnectionToPod)
	case <-time.After(10 * time.Second):
		t.Fatal("the port-forward to the deleted pod went on")
	}
	addr, _ = startPortForward(t, env.Config, ns, "gone-0", 7, "websocket")
	got, err = echo(t, addr, "after")
	require.NoError(t, err)
	assert.Equal(t, "after", got)
	assert.Equal(t, []string{"gone-0:7", "gone-0:7"}, pods.called(), "no dial for the deleted pod")
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "read"
}

func TestKubeletForwardsOnlyForPodsOnItsNode(t *testing.T) {
	env := Start(t)
	ns := env.Namespace(t)
	pods := &podPorts{addrs: map[string]string{"elsewhere-0": echoServer(t)}}
	k := env.StartKubelet(t, pods.dial)
	other := env.StartKubelet(t, pods.dial)
	require.NotEqual(t, k.Node, other.Node)
	env.ReadyPodOn(t, other.Node, ns, "elsewhere-0", nil, "127.0.0.52")

	// Through the API server, the pod's own kubelet serves it.
	addr, _ := startPortForward(t, env.Config, ns, "elsewhere-0", 7, "spdy")
	got, err := echo(t, addr, "here")
	require.NoError(t, err)
	assert.Equal(t, "here", got)

	// Asked directly with the API server's credentials, the other kubelet
	// does not know the pod.
	pki := env.srv.kubeletPKI
	cert, err := tls.LoadX509KeyPair(pki.clientCertFile(), pki.clientKeyFile())
	require.NoError(t, err)
	asAPIServer := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pki.pool, Certificates: []tls.Certificate{cert}}}}
	resp, err := asAPIServer.Post(k.URL()+"/portForward/"+ns+"/elsewhere-0", "", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, err = asAPIServer.Post(other.URL()+"/portForward/"+ns+"/elsewhere-0/not-its-uid", "", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "a uid that is not the pod's")

	// Without the API server's client certificate, nothing is served.
	anonymous := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.pool}}}
	_, err = anonymous.Post(other.URL()+"/portForward/"+ns+"/elsewhere-0", "", nil)
	require.Error(t, err, "a client without a certificate is refused")
}

func TestAPIServerVerifiesTheKubeletsCertificate(t *testing.T) {
	env := Start(t)
	ns := env.Namespace(t)
	pods := &podPorts{addrs: map[string]string{"impostor-0": echoServer(t)}}
	// A kubelet whose certificate another CA signed.
	otherCA, err := newKubeletPKI()
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(otherCA.dir) })
	_, _, cert, err := otherCA.issue(kubeletServingTemplate())
	require.NoError(t, err)
	parsed, err := x509.ParseCertificate(cert.Certificate[0])
	require.NoError(t, err)
	_, err = parsed.Verify(x509.VerifyOptions{Roots: env.srv.kubeletPKI.pool})
	require.Error(t, err)
	k := env.startKubelet(t, pods.dial, cert)
	env.ReadyPodOn(t, k.Node, ns, "impostor-0", nil, "127.0.0.53")

	cs, err := kubernetes.NewForConfig(env.Config)
	require.NoError(t, err)
	url := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name("impostor-0").SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(env.Config)
	require.NoError(t, err)
	_, _, err = spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url).Dial(portforward.PortForwardProtocolV1Name)
	require.Error(t, err, "kube-apiserver must refuse a kubelet certificate its CA did not sign")
	assert.Contains(t, err.Error(), "x509: certificate signed by unknown authority")
	assert.Zero(t, k.Forwards(ns, "impostor-0"))
	assert.Empty(t, pods.called())
}
