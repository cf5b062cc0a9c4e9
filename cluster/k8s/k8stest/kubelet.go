package k8stest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/kubelet/pkg/cri/streaming/portforward"
)

const (
	// kubeletStreamIdleTimeout and kubeletStreamCreationTimeout are the
	// kubelet's defaults (streaming.DefaultConfig).
	kubeletStreamIdleTimeout     = 4 * time.Hour
	kubeletStreamCreationTimeout = 30 * time.Second
	// kubeletStopTimeout bounds the wait for the forwarded streams to end
	// when a test ends.
	kubeletStopTimeout = 10 * time.Second
	// certValidity is how long the generated certificates are valid.
	certValidity = 30 * 24 * time.Hour
)

// kubeletPKI is the certificate authority of the stand-in kubelets, generated
// when the API server starts. kube-apiserver verifies the kubelets' serving
// certificates against it (--kubelet-certificate-authority), as a cluster
// that does not skip that check does, and presents a client certificate it
// signed (--kubelet-client-certificate), which the kubelets require.
type kubeletPKI struct {
	// dir holds ca.crt and the API server's client certificate and key.
	dir  string
	ca   *x509.Certificate
	key  crypto.Signer
	pool *x509.CertPool
}

// newKubeletPKI generates the certificate authority and the API server's
// client certificate into a fresh temporary directory.
func newKubeletPKI() (_ *kubeletPKI, err error) {
	dir, err := os.MkdirTemp("", "k8stest-kubelet-pki-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serialNumber(),
		Subject:               pkix.Name{CommonName: "k8stest-kubelet-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("kubelet CA: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("kubelet CA: %w", err)
	}
	p := &kubeletPKI{dir: dir, ca: ca, key: key, pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	if err := os.WriteFile(p.caFile(), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	// The client certificate kubeadm gives kube-apiserver for the kubelets.
	certPEM, keyPEM, _, err := p.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver-kubelet-client", Organization: []string{"kubeadm:cluster-admins"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, fmt.Errorf("kube-apiserver's kubelet client certificate: %w", err)
	}
	if err := os.WriteFile(p.clientCertFile(), certPEM, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p.clientKeyFile(), keyPEM, 0o600); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *kubeletPKI) caFile() string         { return filepath.Join(p.dir, "ca.crt") }
func (p *kubeletPKI) clientCertFile() string { return filepath.Join(p.dir, "kubelet-client.crt") }
func (p *kubeletPKI) clientKeyFile() string  { return filepath.Join(p.dir, "kubelet-client.key") }

// apiServerFlags are the kube-apiserver flags that make it reach the
// stand-in kubelets: over TLS verified against the CA, with a client
// certificate, at the Node's InternalIP.
func (p *kubeletPKI) apiServerFlags() map[string]string {
	return map[string]string{
		"kubelet-certificate-authority":   p.caFile(),
		"kubelet-client-certificate":      p.clientCertFile(),
		"kubelet-client-key":              p.clientKeyFile(),
		"kubelet-preferred-address-types": string(corev1.NodeInternalIP),
	}
}

// issue signs a certificate made from tmpl (subject, usages and names) with
// a fresh key, and returns it and its key in PEM and as a tls.Certificate.
func (p *kubeletPKI) issue(tmpl *x509.Certificate) (certPEM, keyPEM []byte, cert tls.Certificate, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, cert, err
	}
	now := time.Now()
	tmpl.SerialNumber = serialNumber()
	tmpl.NotBefore = now.Add(-time.Hour)
	tmpl.NotAfter = now.Add(certValidity)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, key.Public(), p.key)
	if err != nil {
		return nil, nil, cert, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, cert, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	return certPEM, keyPEM, cert, err
}

func serialNumber() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(fmt.Sprintf("k8stest: random serial number: %v", err))
	}
	return n
}

// Kubelet is a stand-in for a node's kubelet that serves port-forwarding with the kubelet's own streaming code, forwarding each pod port to a loopback address the test chooses.
//
// It serves what kube-apiserver proxies pods/portforward to,
// /portForward/{namespace}/{pod}[/{uid}], over HTTPS on 127.0.0.1 with a
// certificate of the API server's kubelet CA, and requires the API server's
// client certificate. Like a kubelet, it forwards only for pods bound to its
// node (spec.nodeName), answering 404 for any other; each stream of a
// forward is a connection that dial opens, and a dial error fails the stream
// as a container that does not listen on the port would. A stream for a pod
// deleted since its forward began fails too, as the gone sandbox's would.
type Kubelet struct {
	// Node is the Node object's name.
	Node string
	// Addr is where the kubelet serves (127.0.0.1:port), as the Node's
	// InternalIP and kubelet endpoint port say.
	Addr string

	env  *Env
	dial func(ctx context.Context, pod string, port int32) (net.Conn, error)
	ctx  context.Context
	// mu guards conns, forwards and stopped, and orders wg.Add before
	// wg.Wait.
	mu       sync.Mutex
	conns    map[net.Conn]struct{} // accepted and dialed connections
	forwards map[string]int        // namespace/pod → port-forwards served
	stopped  bool
	wg       sync.WaitGroup // requests and the copies of their streams
}

// StartKubelet registers a Node on loopback and serves /portForward for its pods until the test ends. dial gives the connection for a pod's port (e.g. to a real ZooKeeper on 127.0.0.1); an error refuses that stream, as a dead container would.
//
// The Node gets a fresh name, the InternalIP 127.0.0.1, the kubelet's port
// as its kubelet endpoint and a Ready condition. dial is called with the
// pod's name (the kubelet serves the test's namespaces alike) and the pod
// port the client asked for; its context bounds the dial only. When the
// test ends, the kubelet stops, closing every forward and every connection
// dial gave, and the Node is deleted.
func (e *Env) StartKubelet(t testing.TB, dial func(ctx context.Context, pod string, port int32) (net.Conn, error)) *Kubelet {
	t.Helper()
	pki := e.srv.kubeletPKI
	if pki == nil {
		t.Fatal("k8stest: the API server was started without the kubelet CA")
	}
	_, _, cert, err := pki.issue(kubeletServingTemplate())
	if err != nil {
		t.Fatalf("k8stest: kubelet serving certificate: %v", err)
	}
	return e.startKubelet(t, dial, cert)
}

// kubeletServingTemplate is a kubelet's serving certificate: for 127.0.0.1,
// where the API server dials it.
func kubeletServingTemplate() *x509.Certificate {
	return &x509.Certificate{
		Subject:     pkix.Name{CommonName: "k8stest-kubelet"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:    []string{"localhost"},
	}
}

// startKubelet is StartKubelet serving with the given certificate.
func (e *Env) startKubelet(t testing.TB, dial func(ctx context.Context, pod string, port int32) (net.Conn, error), cert tls.Certificate) *Kubelet {
	t.Helper()
	pki := e.srv.kubeletPKI
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("k8stest: kubelet listener: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port

	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	now := metav1.Now()
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "k8stest-kubelet-"},
		Status: corev1.NodeStatus{
			Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(port)}},
			Conditions: []corev1.NodeCondition{{
				Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
				Message: "k8stest stand-in kubelet is serving", LastHeartbeatTime: now, LastTransitionTime: now,
			}},
			NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.35.4", OperatingSystem: "linux", Architecture: runtime.GOARCH},
		},
	}
	// Nodes keep the status they are created with.
	if err := e.Client.Create(ctx, node); err != nil {
		ln.Close()
		t.Fatalf("k8stest: registering the kubelet's Node: %v", err)
	}

	runCtx, stop := context.WithCancel(context.Background())
	k := &Kubelet{Node: node.Name, Addr: ln.Addr().String(), env: e, dial: dial, ctx: runCtx,
		conns: map[net.Conn]struct{}{}, forwards: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/portForward/{namespace}/{pod}", k.portForward)
	mux.HandleFunc("/portForward/{namespace}/{pod}/{uid}", k.portForward)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: opTimeout,
		// Not to stderr: TLS handshakes refused for want of a client
		// certificate, for one, are expected.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	tlsLn := tls.NewListener(&trackingListener{Listener: ln, k: k}, &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pki.pool,
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	})
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(tlsLn)
	}()

	t.Cleanup(func() {
		stop()
		_ = srv.Close()
		<-served
		k.mu.Lock()
		k.stopped = true
		conns := slices.Collect(maps.Keys(k.conns))
		k.mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
		done := make(chan struct{})
		go func() { k.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(kubeletStopTimeout):
			t.Errorf("k8stest: kubelet %s: forwarded streams still running %v after it stopped", k.Node, kubeletStopTimeout)
		}
		dctx, dcancel := context.WithTimeout(context.Background(), opTimeout)
		defer dcancel()
		if err := e.Client.Delete(dctx, node); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("k8stest: deleting the kubelet's Node %s: %v", k.Node, err)
		}
	})
	return k
}

// portForward serves /portForward/{namespace}/{pod}[/{uid}] as the kubelet
// does: the pod must be bound to this node (and have the uid, when given),
// then the kubelet's streaming code serves the forward.
func (k *Kubelet) portForward(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !k.begin() {
		http.Error(w, "kubelet stopped", http.StatusServiceUnavailable)
		return
	}
	defer k.wg.Done()
	opts, err := portforward.NewV4Options(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	namespace, name, uid := r.PathValue("namespace"), r.PathValue("pod"), types.UID(r.PathValue("uid"))
	pod, err := k.env.Clientset.CoreV1().Pods(namespace).Get(r.Context(), name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) || err == nil && (pod.Spec.NodeName != k.Node || uid != "" && pod.UID != uid):
		http.Error(w, "pod does not exist", http.StatusNotFound)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	k.mu.Lock()
	k.forwards[namespace+"/"+name]++
	k.mu.Unlock()
	portforward.ServePortForward(w, r, podForwarder{k: k, namespace: namespace}, pod.Name, pod.UID, opts,
		kubeletStreamIdleTimeout, kubeletStreamCreationTimeout, portforward.SupportedProtocols)
}

// begin counts in a request or a copy, unless the kubelet has stopped.
func (k *Kubelet) begin() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stopped {
		return false
	}
	k.wg.Add(1)
	return true
}

// track keeps c to close it when the kubelet stops; it closes c at once when
// it has stopped already.
func (k *Kubelet) track(c net.Conn) net.Conn {
	t := &trackedConn{Conn: c, k: k}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stopped {
		_ = c.Close()
	} else {
		k.conns[t] = struct{}{}
	}
	return t
}

// podForwarder is the kubelet's PortForwarder for the pods of a namespace:
// a stream is a connection that dial opens to the pod's port.
type podForwarder struct {
	k         *Kubelet
	namespace string
}

// PortForward copies between the stream and a connection to the pod's port
// until the pod's side ends, as container runtimes do. The client's
// half-close of the stream half-closes the connection. A pod that has been
// deleted (or deleted and created again, with another uid) since the
// forward began fails the stream, as its gone sandbox would.
func (f podForwarder) PortForward(_ context.Context, pod string, uid types.UID, port int32, stream io.ReadWriteCloser) error {
	k := f.k
	if !k.begin() {
		return errors.New("kubelet stopped")
	}
	defer k.wg.Done()
	dctx, cancel := context.WithTimeout(k.ctx, opTimeout)
	defer cancel()
	p, err := k.env.Clientset.CoreV1().Pods(f.namespace).Get(dctx, pod, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) || err == nil && (p.UID != uid || p.DeletionTimestamp != nil):
		return fmt.Errorf("pod %s/%s (uid %s) is gone", f.namespace, pod, uid)
	case err != nil:
		return err
	}
	conn, err := k.dial(dctx, pod, port)
	if err != nil {
		return fmt.Errorf("dial pod %s port %d: %w", pod, port, err)
	}
	conn = k.track(conn)
	defer conn.Close()
	if !k.begin() {
		return errors.New("kubelet stopped")
	}
	go func() {
		defer k.wg.Done()
		if _, err := io.Copy(conn, stream); err == nil {
			if cw, ok := conn.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
				return
			}
		}
		_ = conn.Close()
	}()
	_, err = io.Copy(stream, conn)
	if errors.Is(err, net.ErrClosed) {
		// Closed here: the client's side failed, or the kubelet stopped.
		err = nil
	}
	return err
}

// trackingListener tracks the connections it accepts.
type trackingListener struct {
	net.Listener
	k *Kubelet
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.k.track(c), nil
}

// trackedConn forgets itself when closed.
type trackedConn struct {
	net.Conn
	k    *Kubelet
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.k.mu.Lock()
		delete(c.k.conns, c)
		c.k.mu.Unlock()
	})
	return c.Conn.Close()
}

// CloseWrite half-closes a TCP connection.
func (c *trackedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("connection cannot half-close")
}

// ReadyPodOn is ReadyPod for a pod bound to the given node, e.g. a Kubelet's, so that port-forwards to it reach that kubelet.
func (e *Env) ReadyPodOn(t testing.TB, node, namespace, name string, labels map[string]string, podIP string) *corev1.Pod {
	t.Helper()
	return e.readyPod(t, node, namespace, name, labels, podIP)
}

// URL is the kubelet's base URL, https://127.0.0.1:port.
func (k *Kubelet) URL() string { return "https://" + k.Addr }

// Forwards is how many port-forward requests the kubelet has served for the
// pod: one per connection a client such as kubectl port-forward makes,
// however many streams it carries.
func (k *Kubelet) Forwards(namespace, pod string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.forwards[namespace+"/"+pod]
}

// ZooKeeperPods starts a stand-in kubelet and puts on it ready pods zk-0 …
// zk-N, labelled app.kubernetes.io/name=zookeeper as the shipped
// StatefulSet's are, whose client port 2181 forwards to addrs[i] (e.g. the
// servers of a local ensemble). Any other pod or port is refused.
func (e *Env) ZooKeeperPods(t testing.TB, namespace string, addrs []string) *Kubelet {
	k := e.StartKubelet(t, func(ctx context.Context, pod string, port int32) (net.Conn, error) {
		i, err := strconv.Atoi(strings.TrimPrefix(pod, "zk-"))
		if err != nil || i < 0 || i >= len(addrs) || port != 2181 {
			return nil, fmt.Errorf("pod %s has no port %d", pod, port)
		}
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addrs[i])
	})
	for i := range addrs {
		e.ReadyPodOn(t, k.Node, namespace, "zk-"+strconv.Itoa(i), map[string]string{"app.kubernetes.io/name": "zookeeper"},
			fmt.Sprintf("127.0.0.%d", 100+i))
	}
	return k
}
