// vcsim for Estate's tests and benchmarks: govmomi's vCenter simulator (Debian's
// golang-github-vmware-govmomi-dev ships the package, not the command) serving a VPX
// model sized by flags (or an ESXi host's, with -esx) over TLS on 127.0.0.1. It prints the SDK URL on stdout once it
// answers, and runs until it is sent SIGTERM or SIGINT.
//
// It serves a certificate of its own, made at start (ECDSA P-256, for 127.0.0.1 and
// localhost; GET /cert.pem answers it), as a vCenter serves its self-signed one: a
// client verifying TLS refuses it until told to trust it. (vcsim's built-in
// certificate has a 1024-bit key, which OpenSSL refuses even when trusted.)
//
// Three additions, so that a client is measured honestly:
//   - GET /stats answers the requests served so far by SOAP method, counted here on
//     the server side (a client cannot under-report its own round trips);
//   - RetrievePropertiesEx honours RetrieveOptions.maxObjects and hands out the rest by
//     token through ContinueRetrievePropertiesEx, as vCenter does (this vcsim answers
//     everything at once), so a client's paging runs against the simulator too;
//   - POST /status?code=503 makes the next SOAP request answer that HTTP status, the
//     way vCenter's proxy sheds load (vcsim's own StatusSDK hook, made reachable).
package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

type pending struct {
	objects []types.ObjectContent
	size    int
}

var (
	mu      sync.Mutex
	counts  = map[string]int{}
	tokens  = map[string]pending{}
	issued  = 0
	soapOp  = regexp.MustCompile(`Body>\s*<(?:\w+:)?(\w+)`)
	version = "/sdk/vimServiceVersions.xml"
)

// page answers the first size objects and keeps the rest under a new token.
func page(objects []types.ObjectContent, size int) types.RetrieveResult {
	if size <= 0 || len(objects) <= size {
		return types.RetrieveResult{Objects: objects}
	}
	mu.Lock()
	defer mu.Unlock()
	issued++
	token := strconv.Itoa(issued)
	tokens[token] = pending{objects[size:], size}
	return types.RetrieveResult{Objects: objects[:size], Token: token}
}

// pagedCollector is vcsim's PropertyCollector with vCenter's paging. Embedded by value:
// vcsim makes each session's collector with reflect.New of this type.
type pagedCollector struct {
	simulator.PropertyCollector
}

func (pc *pagedCollector) RetrievePropertiesEx(ctx *simulator.Context, r *types.RetrievePropertiesEx) soap.HasFault {
	body := pc.PropertyCollector.RetrievePropertiesEx(ctx, r).(*methods.RetrievePropertiesExBody)
	if body.Res != nil && body.Res.Returnval != nil {
		result := page(body.Res.Returnval.Objects, int(r.Options.MaxObjects))
		body.Res.Returnval = &result
	}
	return body
}

func (pc *pagedCollector) ContinueRetrievePropertiesEx(r *types.ContinueRetrievePropertiesEx) soap.HasFault {
	mu.Lock()
	rest, ok := tokens[r.Token]
	delete(tokens, r.Token)
	mu.Unlock()
	if !ok {
		fault := simulator.Fault("unknown token", &types.InvalidArgument{InvalidProperty: "token"})
		return &methods.ContinueRetrievePropertiesExBody{Fault_: fault}
	}
	result := types.ContinueRetrievePropertiesExResponse{Returnval: page(rest.objects, rest.size)}
	return &methods.ContinueRetrievePropertiesExBody{Res: &result}
}

func (pc *pagedCollector) CancelRetrievePropertiesEx(r *types.CancelRetrievePropertiesEx) soap.HasFault {
	mu.Lock()
	delete(tokens, r.Token)
	mu.Unlock()
	return &methods.CancelRetrievePropertiesExBody{Res: &types.CancelRetrievePropertiesExResponse{}}
}

// counted counts each request by its SOAP method (or path) before serving it.
func counted(serve http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.Method + " " + r.URL.Path
		if r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			if m := soapOp.FindSubmatch(body); m != nil {
				name = string(m[1])
			}
		}
		mu.Lock()
		counts[name]++
		mu.Unlock()
		serve(w, r)
	}
}

func stats(w http.ResponseWriter, _ *http.Request) {
	mu.Lock()
	defer mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(counts)
}

func status(w http.ResponseWriter, r *http.Request) {
	code, err := strconv.Atoi(r.URL.Query().Get("code"))
	if r.Method != http.MethodPost || err != nil || code < 200 || code > 599 {
		http.Error(w, "POST /status?code=NNN", http.StatusBadRequest)
		return
	}
	simulator.StatusSDK = code
	w.WriteHeader(http.StatusNoContent)
}

// certificate makes a self-signed certificate for 127.0.0.1 and localhost; its PEM too.
func certificate() (tls.Certificate, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	template := x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "vcsim", Organization: []string{"Estate tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(1, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, &template, &template, &key.PublicKey, key)
	if err != nil {
		log.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func main() {
	signals := make(chan os.Signal, 1) // from the start: a stop while building still cleans up
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	model := simulator.VPX()
	flag.IntVar(&model.Datacenter, "dc", 1, "datacenters")
	flag.IntVar(&model.Cluster, "cluster", 1, "clusters per datacenter")
	flag.IntVar(&model.ClusterHost, "host", 3, "hosts per cluster")
	flag.IntVar(&model.Host, "standalone-host", 1, "standalone hosts per datacenter (keep > 0)")
	flag.IntVar(&model.Machine, "vm", 2, "VMs per cluster resource pool and per standalone host")
	flag.IntVar(&model.Datastore, "ds", 1, "local datastores per datacenter, mounted on every host")
	flag.IntVar(&model.Portgroup, "pg", 1, "distributed port groups per datacenter")
	flag.IntVar(&model.Pool, "pool", 0, "child resource pools per cluster")
	port := flag.Int("port", 0, "port on 127.0.0.1 (0: any free one)")
	username := flag.String("username", "", "the only user name accepted (empty: any)")
	password := flag.String("password", "", "the only password accepted")
	esx := flag.Bool("esx", false, "a standalone ESXi host (-vm and -ds apply) instead of a vCenter")
	flag.Parse()
	if *esx {
		vpx := model
		model = simulator.ESX()
		model.Machine, model.Datastore = vpx.Machine, vpx.Datastore
	}

	if err := model.Create(); err != nil {
		log.Fatal(err)
	}
	defer model.Remove()
	collector := new(pagedCollector)
	collector.Self = model.ServiceContent.PropertyCollector
	simulator.Map.Put(collector)

	listen := &url.URL{Host: fmt.Sprintf("127.0.0.1:%d", *port)}
	if *username != "" {
		listen.User = url.UserPassword(*username, *password)
	}
	model.Service.Listen = listen
	served, certPEM := certificate()
	model.Service.TLS = &tls.Config{Certificates: []tls.Certificate{served}}
	mux := http.NewServeMux()
	model.Service.ServeMux = mux
	for _, host := range []string{"127.0.0.1", "localhost"} {
		mux.HandleFunc(host+"/sdk", counted(model.Service.ServeSDK))
		mux.HandleFunc(host+version, counted(model.Service.ServiceVersions))
	}
	mux.HandleFunc("/stats", stats)
	mux.HandleFunc("/status", status)
	mux.HandleFunc("/cert.pem", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(certPEM) })
	server := model.Service.NewServer()
	defer server.Close()

	address := *server.URL
	address.User = nil
	fmt.Println(address.String())
	<-signals
}
