package main

import "github.com/golang/protobuf/proto"

// The envelope of the Go bimux, written by hand the way protoc-gen-go 1.3
// generates it: golang/protobuf 1.3.5 marshals a struct by its field tags, so
// the tags below are the wire format. Every WebSocket binary message is one
// Message.
//
//	enum Flag { request = 0; response = 1; oneway = 2; }
//	message Message { uint64 number = 1; Flag flag = 2; int32 route = 3; bytes data = 4; }

// Flag says what a Message is. Values other than the three below are legal
// on the wire (an enum is an int32) and are dropped by the read loop.
type Flag int32

const (
	FlagRequest  Flag = 0
	FlagResponse Flag = 1
	FlagOneway   Flag = 2
)

var flagName = map[int32]string{0: "request", 1: "response", 2: "oneway"}
var flagValue = map[string]int32{"request": 0, "response": 1, "oneway": 2}

func (f Flag) String() string { return proto.EnumName(flagName, int32(f)) }

// Message is the bimux envelope. Scalars equal to their zero value, and empty
// data, are left out of the encoding (proto3).
type Message struct {
	Number uint64 `protobuf:"varint,1,opt,name=number,proto3" json:"number,omitempty"`
	Flag   Flag   `protobuf:"varint,2,opt,name=flag,proto3,enum=bimux.Flag" json:"flag,omitempty"`
	Route  int32  `protobuf:"varint,3,opt,name=route,proto3" json:"route,omitempty"`
	Data   []byte `protobuf:"bytes,4,opt,name=data,proto3" json:"data,omitempty"`
	// Generated code has these too. XXX_unrecognized keeps the bytes of fields
	// this struct does not know (bimux-ts's field 5), which lets the peer report
	// whether the other side sent any.
	XXX_NoUnkeyedLiteral struct{} `json:"-"`
	XXX_unrecognized     []byte   `json:"-"`
	XXX_sizecache        int32    `json:"-"`
}

func (m *Message) Reset()         { *m = Message{} }
func (m *Message) String() string { return proto.CompactTextString(m) }
func (*Message) ProtoMessage()    {}

func init() {
	proto.RegisterType((*Message)(nil), "bimux.Message")
	proto.RegisterEnum("bimux.Flag", flagName, flagValue)
}
