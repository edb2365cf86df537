package main

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// The Go bimux's benchmark (its README: `hey -c 100` against an HTTP front whose
// every GET makes one Rpc into a peer that answers the 10 bytes "helloworld"),
// rebuilt on this peer's muxer for bench/seed.mjs:
//
//	front   listens on -addr; WebSocket upgrades on -path become muxers, and every
//	        other request is a GET that makes one Rpc(1, nil, -calltimeout) into the
//	        newest connected muxer and writes its reply (505 and the error
//	        otherwise, as the original's example does). Prints {"event":"listening","port":N}
//	        and {"event":"accepted"} per connection.
//	callee  dials -url and answers every request with "helloworld".
//	plain   listens on -addr and answers every GET with "helloworld": no rpc, Go's ceiling.
//
// In the original's example the HTTP front is the side that dials (client.go
// serves HTTP and calls the server it dialed); here the front is the side that
// accepts, as bimux is meant to be used behind NAT (the public side calls in).
// An Rpc is the same messages either way. The wire log is off (recordWire).
// Every mode ends when stdin closes (its parent went away) or -maxlife passes.

var hello = []byte("helloworld")

func runBench(mode, addr, path, url string, callTimeout time.Duration) {
	recordWire = false
	go func() {
		// Ends the process when the parent goes: it holds our stdin.
		in := bufio.NewReader(os.Stdin)
		for {
			if _, err := in.ReadByte(); err != nil {
				os.Exit(0)
			}
		}
	}()
	switch mode {
	case "callee":
		conn, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			emit(map[string]interface{}{"event": "connect", "ok": false, "error": err.Error()})
			os.Exit(1)
		}
		m := newMuxer(conn, func(int32, []byte, *muxer) []byte { return hello }, nil)
		emit(map[string]interface{}{"event": "connect", "ok": true})
		err = m.Wait()
		emit(map[string]interface{}{"event": "disconnected", "error": errString(err)})
		os.Exit(0)
	case "plain":
		serveHTTP(addr, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(hello) }))
	case "front":
		var mu sync.Mutex
		var current *muxer
		mux := http.NewServeMux()
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			conn, err := upgrader.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			m := newMuxer(conn, nil, nil)
			mu.Lock()
			current = m
			mu.Unlock()
			emit(map[string]interface{}{"event": "accepted"})
		})
		mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
			mu.Lock()
			m := current
			mu.Unlock()
			if m == nil {
				w.WriteHeader(503)
				return
			}
			ret, err := m.Rpc(1, nil, callTimeout)
			if err != nil {
				w.WriteHeader(505)
				w.Write([]byte(err.Error()))
				return
			}
			w.Write(ret)
		})
		serveHTTP(addr, mux)
	}
}

func serveHTTP(addr string, h http.Handler) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		emit(map[string]interface{}{"event": "listen", "error": err.Error()})
		os.Exit(1)
	}
	emit(map[string]interface{}{"event": "listening", "port": ln.Addr().(*net.TCPAddr).Port})
	err = http.Serve(ln, h)
	emit(map[string]interface{}{"event": "serve-ended", "error": errString(err)})
	os.Exit(1)
}
