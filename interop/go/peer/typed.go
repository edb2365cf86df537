package main

// The typed mode: a Go server speaking the services of demo/v1/tab.proto with the
// messages protoc-gen-go 1.3 generated for Go from the same .proto as the TypeScript
// side's (demopb, optionspb; see interop/go/buf.gen.*.yaml). It serves Directory, and
// calls each client's Tab the moment it accepts it, as a Go bimux application would.
//
//	peer typed -addr 127.0.0.1:0 -path /mux
//
// The routes are read from the (bimux.v1.route) options in the descriptor the
// generated code registers, as @bimux/services reads them in TypeScript.

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io/ioutil"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/golang/protobuf/proto"
	descpb "github.com/golang/protobuf/protoc-gen-go/descriptor"

	demo "./demopb/demo/v1"
	bimuxv1 "./optionspb/bimux/v1"
)

// routesOf reads "Service.Method" -> route from a registered .proto file's descriptor.
func routesOf(file string) (map[string]int32, error) {
	gz := proto.FileDescriptor(file)
	if gz == nil {
		return nil, fmt.Errorf("%s is not registered", file)
	}
	r, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, err
	}
	raw, err := ioutil.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var fd descpb.FileDescriptorProto
	if err := proto.Unmarshal(raw, &fd); err != nil {
		return nil, err
	}
	routes := map[string]int32{}
	for _, service := range fd.Service {
		for _, method := range service.Method {
			value, err := proto.GetExtension(method.Options, bimuxv1.E_Route)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %v", service.GetName(), method.GetName(), err)
			}
			routes[service.GetName()+"."+method.GetName()] = *value.(*int32)
		}
	}
	return routes, nil
}

func runTyped(addr, path string, callTimeout time.Duration) {
	routes, err := routesOf("demo/v1/tab.proto")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// First line: the port, so the test can listen on port 0. Then the routes as Go read them.
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	emit(map[string]interface{}{"event": "routes", "routes": routes})

	// Directory, served with the Go messages. A Go hook cannot send an error (the
	// original protocol has none): a request it cannot decode gets an empty reply.
	serve := func(route int32, data []byte, _ *muxer) []byte {
		switch route {
		case routes["Directory.Lookup"]:
			var req demo.LookupRequest
			if err := proto.Unmarshal(data, &req); err != nil {
				emit(map[string]interface{}{"event": "bad-request", "error": err.Error()})
				return nil
			}
			rsp, _ := proto.Marshal(&demo.LookupResponse{Name: req.Name, Id: int64(len(req.Name)) << 40, Tags: []string{"go", req.Name}})
			return rsp
		case routes["Directory.Echo"]:
			var msg demo.EchoMessage
			if err := proto.Unmarshal(data, &msg); err != nil {
				return nil
			}
			time.Sleep(time.Duration(msg.DelayMs) * time.Millisecond)
			rsp, _ := proto.Marshal(&msg)
			return rsp
		}
		return nil
	}

	mux := http.NewServeMux()
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			emit(map[string]interface{}{"event": "upgrade-failed", "error": err.Error()})
			return
		}
		m := newMuxer(conn, serve, serveOneway)
		emit(map[string]interface{}{"event": "accepted"})
		go func() {
			// Tab.GetTitle on the client, for tab 7 and for tab 404, which it does not have.
			for _, id := range []int32{7, 404} {
				req, _ := proto.Marshal(&demo.GetTitleRequest{TabId: id})
				rsp, err := m.Rpc(routes["Tab.GetTitle"], req, callTimeout)
				result := map[string]interface{}{"event": "getTitle", "tabId": id, "ok": err == nil}
				if err != nil {
					result["error"] = err.Error()
				} else {
					var title demo.GetTitleResponse
					if err := proto.Unmarshal(rsp, &title); err != nil {
						result["ok"], result["error"] = false, err.Error()
					} else {
						result["title"] = title.Title
					}
				}
				emit(result)
			}
			// Tab.Notify, one-way.
			note, _ := proto.Marshal(&demo.Note{Text: "from go"})
			emit(map[string]interface{}{"event": "notify", "ok": m.Send(routes["Tab.Notify"], note) == nil})
		}()
	})
	http.Serve(ln, mux)
}
