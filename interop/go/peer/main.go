// Command peer is a Go bimux peer for the cross-language interop test
// (packages/node/test/interop-go.test.ts). It behaves like the Go original
// (github.com/bilc/bimux) on the same libraries, and reports what happens as
// one JSON object per line on stdout, so that a Node test can drive it.
//
//	peer server -addr 127.0.0.1:0 -path /mux [-nohook] [-calltimeout 2s]
//	peer client -url ws://127.0.0.1:PORT/mux [-timeout 500ms]
//	peer vectors -file conformance/go-bimux-wire-vectors.json
//	peer front -addr 127.0.0.1:0 -path /mux [-calltimeout 1s]   (bench/seed.mjs)
//	peer callee -url ws://127.0.0.1:PORT/mux                    (bench/seed.mjs)
//	peer plain -addr 127.0.0.1:0                                (bench/seed.mjs)
//	peer typed -addr 127.0.0.1:0 -path /mux (see typed.go)
//
// Build without modules, from Debian's golang-github-gorilla-websocket-dev
// and golang-goprotobuf-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o peer ./interop/go/peer
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io/ioutil"
	"math/big"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang/protobuf/proto"
	"github.com/gorilla/websocket"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: peer server|client|dialcmd|typed|vectors [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	// Whatever the parent does, this process ends: a test must not leave it behind.
	maxLife := fs.Duration("maxlife", time.Minute, "exit after this long, whatever happens")
	switch os.Args[1] {
	case "server":
		addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
		path := fs.String("path", "/mux", "WebSocket path")
		noHook := fs.Bool("nohook", false, "serve no rpc hook at all: requests are never answered")
		callTimeout := fs.Duration("calltimeout", 2*time.Second, "timeout of this server's calls to its clients")
		fs.Parse(os.Args[2:])
		watchdog(*maxLife)
		runServer(*addr, *path, *noHook, *callTimeout)
	case "client":
		url := fs.String("url", "", "ws:// URL of a bimux server")
		timeout := fs.Duration("timeout", 500*time.Millisecond, "timeout of the calls expected to time out")
		fs.Parse(os.Args[2:])
		watchdog(*maxLife)
		os.Exit(runClient(*url, *timeout))
	case "dialcmd":
		url := fs.String("url", "", "ws:// URL of a bimux server")
		callTimeout := fs.Duration("calltimeout", 2*time.Second, "timeout of calls")
		fs.Parse(os.Args[2:])
		watchdog(*maxLife)
		conn, _, err := websocket.DefaultDialer.Dial(*url, nil)
		if err != nil {
			emit(map[string]interface{}{"event": "connect", "ok": false, "error": err.Error()})
			os.Exit(1)
		}
		m := newMuxer(conn, serveRpc, serveOneway)
		s := &server{callTimeout: *callTimeout, live: map[int]*muxer{1: m}, next: 1}
		emit(map[string]interface{}{"event": "connect", "ok": true})
		go func() {
			err := m.Wait()
			emit(map[string]interface{}{"event": "disconnected", "conn": 1, "error": errString(err)})
		}()
		s.commands()
	case "front", "callee", "plain":
		// The Go bimux's own benchmark, for bench/seed.mjs: see bench.go.
		addr := fs.String("addr", "127.0.0.1:0", "address to listen on (front, plain)")
		path := fs.String("path", "/mux", "WebSocket path (front)")
		url := fs.String("url", "", "ws:// URL of the front (callee)")
		callTimeout := fs.Duration("calltimeout", time.Second, "timeout of the front's calls (the original's example: 1 s)")
		fs.Parse(os.Args[2:])
		watchdog(*maxLife)
		runBench(os.Args[1], *addr, *path, *url, *callTimeout)
	case "typed":
		addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
		path := fs.String("path", "/mux", "WebSocket path")
		callTimeout := fs.Duration("calltimeout", 2*time.Second, "timeout of this server's calls to its clients")
		fs.Parse(os.Args[2:])
		watchdog(*maxLife)
		runTyped(*addr, *path, *callTimeout)
	case "vectors":
		file := fs.String("file", "conformance/go-bimux-wire-vectors.json", "wire vectors made by the Go original")
		fs.Parse(os.Args[2:])
		os.Exit(runVectors(*file))
	default:
		fmt.Fprintf(os.Stderr, "unknown mode %q\n", os.Args[1])
		os.Exit(2)
	}
}

func watchdog(life time.Duration) {
	time.AfterFunc(life, func() {
		emit(map[string]interface{}{"event": "maxlife"})
		os.Exit(2)
	})
}

// The hooks, the same in both modes: what a Go application would register.
func serveRpc(route int32, data []byte, _ *muxer) []byte {
	switch route {
	case 1: // echo
		return data
	case 2: // a transform the caller can predict
		return append([]byte("go:"), reversed(data)...)
	case 3: // slow: many of these at once prove calls are served concurrently
		time.Sleep(200 * time.Millisecond)
		return data
	default:
		// A Go hook that knows nothing of the route: nil, sent as an empty response.
		return nil
	}
}

// One-way messages are recorded by the read loop in wire order; the hook only
// has to exist. (The original runs it in a goroutine per message, so the order
// in which hooks run is not the wire order even between Go peers.)
func serveOneway(int32, []byte, *muxer) {}

// ---- server mode ----

// The original's upgrader: default options, so no subprotocol is ever chosen.
var upgrader = websocket.Upgrader{}

type server struct {
	noHook      bool
	callTimeout time.Duration
	mu          sync.Mutex
	next        int
	live        map[int]*muxer
}

func runServer(addr, path string, noHook bool, callTimeout time.Duration) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// First line: the port, so the test can listen on port 0.
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	s := &server{noHook: noHook, callTimeout: callTimeout, live: make(map[int]*muxer)}
	mux := http.NewServeMux()
	mux.HandleFunc(path, s.accept)
	go http.Serve(ln, mux)
	s.commands()
}

func (s *server) accept(w http.ResponseWriter, r *http.Request) {
	offered := r.Header.Get("Sec-WebSocket-Protocol")
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		emit(map[string]interface{}{"event": "upgrade-failed", "error": err.Error()})
		return
	}
	var hook rpcHook = serveRpc
	if s.noHook {
		hook = nil
	}
	m := newMuxer(conn, hook, serveOneway)
	s.mu.Lock()
	s.next++
	id := s.next
	s.live[id] = m
	s.mu.Unlock()
	emit(map[string]interface{}{"event": "accepted", "conn": id, "offered": offered})
	go func() {
		err := m.Wait()
		s.mu.Lock()
		delete(s.live, id)
		s.mu.Unlock()
		emit(map[string]interface{}{"event": "disconnected", "conn": id, "error": errString(err)})
	}()
	// A Go server calls the client it just accepted, before the client says a word.
	go func() {
		start := time.Now()
		rsp, err := m.Rpc(10, []byte("from-go"), s.callTimeout)
		r := outcome(rsp, err, start)
		r["event"], r["conn"] = "hello", id
		emit(r)
	}()
}

// latest is the newest live connection: the one the test dialled last.
func (s *server) latest() (int, *muxer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	best := 0
	for id := range s.live {
		if id > best {
			best = id
		}
	}
	return best, s.live[best]
}

// commands reads the test's commands from stdin, one per line, until EOF,
// which ends the process: when the test goes, so does the server.
//
//	call ROUTE COUNT TEXT  COUNT concurrent calls with TEXT#i; replies in order
//	big ROUTE SIZE         one call with SIZE predictable bytes
//	stats                  what the newest connection received
//	close                  Close every connection (no close frame, like the original)
func (s *server) commands() {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		args := strings.Fields(in.Text())
		if len(args) == 0 {
			continue
		}
		if args[0] == "close" {
			s.mu.Lock()
			n := len(s.live)
			for _, m := range s.live {
				m.Close()
			}
			s.mu.Unlock()
			emit(map[string]interface{}{"event": "closed", "count": n})
			continue
		}
		id, m := s.latest()
		if m == nil {
			emit(map[string]interface{}{"event": args[0], "error": "no live connection"})
			continue
		}
		switch {
		case args[0] == "rawcall" && len(args) == 4:
			n, _ := strconv.ParseUint(args[1], 10, 64)
			ms := atoi(args[2])
			raw, _ := hex.DecodeString(args[3])
			if args[3] == "-" {
				raw = []byte{}
			}
			start := time.Now()
			rsp, err := m.rawCall(n, raw, time.Duration(ms)*time.Millisecond)
			r := outcome(rsp, err, start)
			r["event"], r["conn"] = "rawcall", id
			emit(r)
		case args[0] == "raw" && len(args) == 2:
			raw, _ := hex.DecodeString(args[1])
			err := m.writeKind(websocket.BinaryMessage, raw)
			emit(map[string]interface{}{"event": "raw", "error": errString(err)})
		case args[0] == "text" && len(args) == 2:
			err := m.writeKind(websocket.TextMessage, []byte(args[1]))
			emit(map[string]interface{}{"event": "text", "error": errString(err)})
		case args[0] == "setnum" && len(args) == 2:
			n, _ := strconv.ParseUint(args[1], 10, 64)
			atomic.StoreUint64(&m.number, n)
			emit(map[string]interface{}{"event": "setnum"})
		case args[0] == "send" && len(args) == 3:
			err := m.Send(int32(atoi(args[1])), []byte(args[2]))
			emit(map[string]interface{}{"event": "send", "error": errString(err)})
		case args[0] == "rpc" && len(args) == 4:
			// rpc ROUTE TIMEOUTMS TEXT ("-" for empty data)
			data := []byte(args[3])
			if args[3] == "-" {
				data = nil
			}
			start := time.Now()
			rsp, err := m.Rpc(int32(atoi(args[1])), data, time.Duration(atoi(args[2]))*time.Millisecond)
			r := outcome(rsp, err, start)
			r["event"], r["conn"] = "rpc", id
			emit(r)
		case args[0] == "stats":
			emit(map[string]interface{}{"event": "stats", "conn": id, "wire": m.snapshot()})
		case args[0] == "call" && len(args) == 4:
			route, count := atoi(args[1]), atoi(args[2])
			r := concurrentCalls(m, int32(route), count, args[3], s.callTimeout)
			r["event"], r["conn"] = "call", id
			emit(r)
		case args[0] == "big" && len(args) == 3:
			route, size := atoi(args[1]), atoi(args[2])
			start := time.Now()
			rsp, err := m.Rpc(int32(route), payload(size), s.callTimeout)
			r := outcome(rsp, err, start)
			r["event"], r["conn"] = "big", id
			emit(r)
		default:
			emit(map[string]interface{}{"event": "bad-command", "line": in.Text()})
		}
	}
	os.Exit(0)
}

// ---- client mode ----

// runClient dials like the original's Dial (gorilla's DefaultDialer, no
// subprotocol), calls the server in a fixed script while serving its calls,
// then waits for the server to end the connection and reports what it got.
func runClient(url string, timeout time.Duration) int {
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		emit(map[string]interface{}{"step": "connect", "ok": false, "error": err.Error()})
		return 1
	}
	m := newMuxer(conn, serveRpc, serveOneway)
	emit(map[string]interface{}{"step": "connected", "ok": true})

	const normal = 5 * time.Second
	call := func(step string, route int32, data []byte, timeout time.Duration) map[string]interface{} {
		start := time.Now()
		rsp, err := m.Rpc(route, data, timeout)
		r := outcome(rsp, err, start)
		r["step"] = step
		return r
	}
	emit(call("echo", 1, []byte("hello from go"), normal))
	emit(call("empty", 1, nil, normal))
	emit(call("transform", 2, []byte("abc"), normal))
	emit(call("big", 2, payload(1<<20), normal))
	r := concurrentCalls(m, 3, 100, "c", normal)
	r["step"] = "concurrent"
	emit(r)

	// Both end in the server's error reply (flag 3), which this side drops:
	// only the timeout can end them. Run together to wait once.
	var throws, unhandled map[string]interface{}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); throws = call("throws", 4, []byte("boom"), timeout) }()
	go func() { defer wg.Done(); unhandled = call("unhandled", 5, []byte("anyone?"), timeout) }()
	wg.Wait()
	emit(throws)
	emit(unhandled)

	sent := 0
	for i := 0; i < 1000; i++ {
		if m.Send(7, []byte(strconv.Itoa(i))) == nil {
			sent++
		}
	}
	emit(map[string]interface{}{"step": "sent", "count": sent})
	emit(map[string]interface{}{"step": "done"})

	// The test closes the connection when it has called this side enough.
	err = m.Wait()
	emit(map[string]interface{}{"step": "stats", "wire": m.snapshot(), "error": errString(err)})
	return 0
}

// ---- wire vectors ----

// runVectors checks that this Message encodes and decodes the Go original's
// wire vectors byte for byte: the peer speaks exactly the original's protocol.
func runVectors(file string) int {
	raw, err := ioutil.ReadFile(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var doc struct {
		Vectors []struct {
			Name    string `json:"name"`
			Number  string `json:"number"`
			Flag    int32  `json:"flag"`
			Route   int32  `json:"route"`
			DataHex string `json:"dataHex"`
			WireHex string `json:"wireHex"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	bad := []string{}
	for _, v := range doc.Vectors {
		n, ok := new(big.Int).SetString(v.Number, 10)
		data, err1 := hex.DecodeString(v.DataHex)
		if !ok || !n.IsUint64() || err1 != nil {
			bad = append(bad, v.Name+": unreadable vector")
			continue
		}
		wire, err := proto.Marshal(&Message{Number: n.Uint64(), Flag: Flag(v.Flag), Route: v.Route, Data: data})
		if err != nil || hex.EncodeToString(wire) != v.WireHex {
			bad = append(bad, fmt.Sprintf("%s: encodes to %x", v.Name, wire))
		}
		wireIn, _ := hex.DecodeString(v.WireHex)
		var back Message
		if err := proto.Unmarshal(wireIn, &back); err != nil ||
			back.Number != n.Uint64() || back.Flag != Flag(v.Flag) || back.Route != v.Route || hex.EncodeToString(back.Data) != v.DataHex {
			bad = append(bad, fmt.Sprintf("%s: decodes to %v", v.Name, back.String()))
		}
	}
	emit(map[string]interface{}{"vectors": len(doc.Vectors), "mismatches": bad})
	if len(bad) > 0 {
		return 1
	}
	return 0
}

// ---- helpers ----

var stdout sync.Mutex

// emit writes v as one JSON line; lines from concurrent goroutines never mix.
func emit(v interface{}) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(fmt.Sprintf(`{"event":"emit-failed","error":%q}`, err.Error()))
	}
	stdout.Lock()
	defer stdout.Unlock()
	os.Stdout.Write(append(b, '\n'))
}

// outcome describes a call's result: the reply's length and SHA-256 always,
// its hex when small, or the error ("timeout" for the original's ErrTimeout).
func outcome(rsp []byte, err error, start time.Time) map[string]interface{} {
	r := map[string]interface{}{"ok": err == nil, "ms": time.Since(start).Milliseconds()}
	if err != nil {
		r["error"] = err.Error()
		return r
	}
	sum := sha256.Sum256(rsp)
	r["len"], r["sha256"] = len(rsp), hex.EncodeToString(sum[:])
	if len(rsp) <= 4096 {
		r["hex"] = hex.EncodeToString(rsp)
	}
	return r
}

// concurrentCalls makes count calls at once, with data TEXT#i, and reports the
// replies as text in call order, and the distinct errors.
func concurrentCalls(m *muxer, route int32, count int, text string, timeout time.Duration) map[string]interface{} {
	replies := make([]*string, count)
	errs := make([]string, count)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < count; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			rsp, err := m.Rpc(route, []byte(fmt.Sprintf("%s#%d", text, i)), timeout)
			if err != nil {
				errs[i] = err.Error()
				return
			}
			s := string(rsp)
			replies[i] = &s
		}(i)
	}
	wg.Wait()
	distinct := map[string]bool{}
	for _, e := range errs {
		if e != "" {
			distinct[e] = true
		}
	}
	errors := []string{}
	for e := range distinct {
		errors = append(errors, e)
	}
	sort.Strings(errors)
	return map[string]interface{}{"replies": replies, "errors": errors, "ms": time.Since(start).Milliseconds()}
}

// payload is size predictable bytes, the same the test computes: (i*31+7) mod 256.
func payload(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*31 + 7)
	}
	return b
}

func reversed(b []byte) []byte {
	r := make([]byte, len(b))
	for i, c := range b {
		r[len(b)-1-i] = c
	}
	return r
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
