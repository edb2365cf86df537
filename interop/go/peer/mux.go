package main

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang/protobuf/proto"
	"github.com/gorilla/websocket"
)

// A muxer with the Go bimux's observable behaviour, on the same libraries
// (gorilla/websocket, golang/protobuf 1.3.5). What matters for interop, and is
// kept exactly:
//   - one counter numbers requests and one-way sends alike, from 1;
//   - Rpc waits for the response with its number, or its timeout; nothing else
//     (not even the connection closing) ends it early;
//   - the read loop decodes each binary message; a decode error ends the loop;
//   - a request is served in its own goroutine and answered with a response
//     carrying its number and route; with no rpc hook it is never answered;
//   - a one-way message runs the one-way hook in its own goroutine;
//   - any other flag is dropped without a word (bimux-ts's error reply, 3);
//   - Close closes the TCP connection without a close frame.
// It also records what it saw on the wire, so that the test can check what the
// other side sent; that is the only addition.

type rpcHook func(route int32, data []byte, m *muxer) []byte
type onewayHook func(route int32, data []byte, m *muxer)

var errTimeout = errors.New("timeout")

// recordWire keeps the wire log the interop test reads. The benchmark modes
// (bench.go) turn it off: the original keeps no such log, and formatting every
// frame would be most of what the peer does.
var recordWire = true

type muxer struct {
	conn    *websocket.Conn
	writeMu sync.Mutex // gorilla allows one writer at a time
	number  uint64     // atomic

	mu      sync.Mutex
	waiting map[uint64]chan []byte

	onRpc    rpcHook    // nil: requests get no reply, as in the original
	onOneway onewayHook // nil: one-way messages are dropped
	done     chan struct{}
	readErr  error // why the read loop ended; set before done closes

	seenMu sync.Mutex
	seen   wireLog
}

// wireLog is what arrived, for the test's eyes only.
type wireLog struct {
	Flags             map[Flag]int `json:"flags"`             // messages per flag value
	UnknownFieldBytes int          `json:"unknownFieldBytes"` // bytes of fields other than 1-4
	Numbers           []uint64     `json:"numbers"`           // of inbound requests and one-ways, in wire order
	Oneways           []string     `json:"oneways"`           // one-way payloads, in wire order
	OnewaysHandled    int          `json:"onewaysHandled"`    // one-way hook runs finished
	TextMessages      int          `json:"textMessages"`
	Frames            []string     `json:"frames"` // every frame: flag/number/route/datahex (exact uint64 as text)
}

func newMuxer(conn *websocket.Conn, onRpc rpcHook, onOneway onewayHook) *muxer {
	m := &muxer{
		conn:     conn,
		waiting:  make(map[uint64]chan []byte),
		onRpc:    onRpc,
		onOneway: onOneway,
		done:     make(chan struct{}),
		seen:     wireLog{Flags: make(map[Flag]int), Numbers: []uint64{}, Oneways: []string{}},
	}
	go m.loop()
	return m
}

// Send is the original's one-way send: it takes a number like a request does.
func (m *muxer) Send(route int32, data []byte) error {
	return m.write(&Message{Number: atomic.AddUint64(&m.number, 1), Flag: FlagOneway, Route: route, Data: data})
}

// Rpc registers before writing, so that a fast reply cannot arrive unclaimed.
func (m *muxer) Rpc(route int32, req []byte, timeout time.Duration) ([]byte, error) {
	msg := &Message{Number: atomic.AddUint64(&m.number, 1), Flag: FlagRequest, Route: route, Data: req}
	reply := make(chan []byte, 1)
	m.mu.Lock()
	m.waiting[msg.Number] = reply
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.waiting, msg.Number)
		m.mu.Unlock()
	}()
	if err := m.write(msg); err != nil {
		return nil, err
	}
	return awaitReply(reply, timeout)
}

// awaitReply waits for the response a call registered, at most timeout.
func awaitReply(reply chan []byte, timeout time.Duration) ([]byte, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case data := <-reply:
		return data, nil
	case <-timer.C:
		return nil, errTimeout
	}
}

// Close is the original's: the socket goes, without a close handshake.
func (m *muxer) Close() { m.conn.Close() }

// Wait blocks until the read loop has ended.
func (m *muxer) Wait() error {
	<-m.done
	return m.readErr
}

func (m *muxer) write(msg *Message) error {
	b, err := proto.Marshal(msg)
	if err != nil {
		return err
	}
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	return m.conn.WriteMessage(websocket.BinaryMessage, b)
}

func (m *muxer) loop() {
	defer close(m.done)
	for {
		// The original reads text messages too and tries to decode them.
		kind, packet, err := m.conn.ReadMessage()
		if err != nil {
			m.readErr = err
			return
		}
		var msg Message
		if err := proto.Unmarshal(packet, &msg); err != nil {
			m.readErr = err
			return
		}
		if recordWire {
			m.record(kind, &msg)
		}
		switch msg.Flag {
		case FlagResponse:
			m.notify(msg.Number, msg.Data)
		case FlagRequest:
			if m.onRpc != nil {
				go func(req *Message) {
					rsp := m.onRpc(req.Route, req.Data, m)
					m.write(&Message{Number: req.Number, Flag: FlagResponse, Route: req.Route, Data: rsp})
				}(&msg)
			}
		case FlagOneway:
			if m.onOneway != nil {
				go func(route int32, data []byte) {
					m.onOneway(route, data, m)
					m.seenMu.Lock()
					m.seen.OnewaysHandled++
					m.seenMu.Unlock()
				}(msg.Route, msg.Data)
			}
			// No default: the original drops every other flag silently.
		}
	}
}

// notify hands a response to the call waiting for its number, if any; a late
// or unknown one is dropped. (The original blocks on a duplicate; a peer that
// sends one is broken either way, and this one must not hang the test.)
func (m *muxer) notify(number uint64, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if reply, ok := m.waiting[number]; ok {
		select {
		case reply <- data:
		default:
		}
	}
}

func (m *muxer) record(kind int, msg *Message) {
	m.seenMu.Lock()
	defer m.seenMu.Unlock()
	if kind == websocket.TextMessage {
		m.seen.TextMessages++
	}
	m.seen.Flags[msg.Flag]++
	m.seen.UnknownFieldBytes += len(msg.XXX_unrecognized)
	if msg.Flag == FlagRequest || msg.Flag == FlagOneway {
		m.seen.Numbers = append(m.seen.Numbers, msg.Number)
	}
	d := msg.Data
	if len(d) > 64 {
		d = d[:64]
	}
	m.seen.Frames = append(m.seen.Frames, fmt.Sprintf("%d/%d/%d/%x", msg.Flag, msg.Number, msg.Route, d))
	if msg.Flag == FlagOneway {
		m.seen.Oneways = append(m.seen.Oneways, string(msg.Data))
	}
}

// snapshot returns a copy of the wire log that can be marshalled safely.
func (m *muxer) snapshot() wireLog {
	m.seenMu.Lock()
	defer m.seenMu.Unlock()
	flags := make(map[Flag]int, len(m.seen.Flags))
	for f, n := range m.seen.Flags {
		flags[f] = n
	}
	return wireLog{
		Flags:             flags,
		UnknownFieldBytes: m.seen.UnknownFieldBytes,
		Numbers:           append([]uint64{}, m.seen.Numbers...),
		Oneways:           append([]string{}, m.seen.Oneways...),
		OnewaysHandled:    m.seen.OnewaysHandled,
		TextMessages:      m.seen.TextMessages,
		Frames:            append([]string{}, m.seen.Frames...),
	}
}

// rawCall writes raw bytes and waits for the response whose number is number.
func (m *muxer) rawCall(number uint64, raw []byte, timeout time.Duration) ([]byte, error) {
	reply := make(chan []byte, 1)
	m.mu.Lock()
	m.waiting[number] = reply
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.waiting, number)
		m.mu.Unlock()
	}()
	m.writeMu.Lock()
	err := m.conn.WriteMessage(websocket.BinaryMessage, raw)
	m.writeMu.Unlock()
	if err != nil {
		return nil, err
	}
	return awaitReply(reply, timeout)
}

func (m *muxer) writeKind(kind int, raw []byte) error {
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	return m.conn.WriteMessage(kind, raw)
}
