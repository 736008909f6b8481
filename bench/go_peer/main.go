// Copyright: virtrigaud.core contributors
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

// A minimal provider.v1 Describe server in Go: the peer bench/grpc_describe.py
// measures the runtime against. It keeps its VMs in an in-memory map, as a mock
// provider does, and builds each answer per call (JSON document included).
// Messages are encoded with protowire, so no generated code is needed.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"strings"
	"sync"

	"context"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"
)

type describeRequest struct{ id string }

type describeResponse struct {
	exists          bool
	powerState      string
	ips             []string
	consoleURL      string
	providerRawJSON string
}

// vm carries the fields of the runtime's observed document, so both answers are about the same size.
type vm struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Power      string            `json:"power_state"`
	CPU        int               `json:"cpu"`
	MemoryMiB  int               `json:"memory_mib"`
	Firmware   string            `json:"firmware"`
	SecureBoot bool              `json:"secure_boot"`
	Disks      []disk            `json:"disks"`
	NICs       []nic             `json:"nics"`
	IPs        []string          `json:"ip_addresses"`
	Tags       []string          `json:"tags"`
	Console    string            `json:"console_url"`
	Placement  map[string]string `json:"placement"`
	MaxCPU     int               `json:"max_cpu"`
	MaxMemory  int               `json:"max_memory_mib"`
}

type disk struct {
	Name    string  `json:"name"`
	SizeGiB int     `json:"size_gib"`
	Format  string  `json:"format"`
	Path    *string `json:"path"`
	Device  *string `json:"device"`
}

type nic struct {
	Name     string   `json:"name"`
	MAC      string   `json:"mac_address"`
	Network  string   `json:"network"`
	Bridge   *string  `json:"bridge"`
	Model    string   `json:"model"`
	IPs      []string `json:"ip_addresses"`
	StaticIP string   `json:"static_ip"`
	Gateway  *string  `json:"gateway"`
	DNS      []string `json:"dns"`
}

func newVM(id string) vm {
	ips := []string{"192.0.2.10"}
	return vm{ID: id, Name: "bench-1", Power: "On", CPU: 2, MemoryMiB: 2048, Firmware: "bios",
		Disks: []disk{{Name: "root", SizeGiB: 10, Format: "qcow2"}, {Name: "data", SizeGiB: 10, Format: "qcow2"}},
		NICs: []nic{{Name: "lan", MAC: "52:54:00:00:00:01", Network: "default", Model: "virtio", IPs: ips,
			DNS: []string{}}},
		IPs: ips, Tags: []string{"bench"}, Console: "mock://console/" + id,
		Placement: map[string]string{"datastore": "mock-datastore"}, MaxCPU: 8, MaxMemory: 8192}
}

// codec reads a DescribeRequest and writes a DescribeResponse (provider.v1 field numbers).
type codec struct{}

func (codec) Name() string { return "proto" }

func (codec) Marshal(v any) ([]byte, error) {
	r, ok := v.(*describeResponse)
	if !ok {
		return nil, fmt.Errorf("cannot encode %T", v)
	}
	var b []byte
	if r.exists {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
	}
	b = appendString(b, 2, r.powerState)
	for _, ip := range r.ips {
		b = appendString(b, 3, ip)
	}
	b = appendString(b, 4, r.consoleURL)
	return appendString(b, 5, r.providerRawJSON), nil
}

func appendString(b []byte, field protowire.Number, value string) []byte {
	if value == "" {
		return b
	}
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendString(b, value)
}

func (codec) Unmarshal(data []byte, v any) error {
	r, ok := v.(*describeRequest)
	if !ok {
		return fmt.Errorf("cannot decode into %T", v)
	}
	for len(data) > 0 {
		field, kind, n := protowire.ConsumeTag(data)
		if n < 0 {
			return protowire.ParseError(n)
		}
		data = data[n:]
		if field == 1 && kind == protowire.BytesType {
			value, m := protowire.ConsumeString(data)
			if m < 0 {
				return protowire.ParseError(m)
			}
			r.id, data = value, data[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(field, kind, data)
		if m < 0 {
			return protowire.ParseError(m)
		}
		data = data[m:]
	}
	return nil
}

type store struct {
	mu  sync.RWMutex
	vms map[string]vm
}

func (s *store) describe(ctx context.Context, req *describeRequest) (*describeResponse, error) {
	s.mu.RLock()
	found, ok := s.vms[req.id]
	s.mu.RUnlock()
	if !ok {
		return &describeResponse{powerState: "Off"}, nil
	}
	raw, err := json.Marshal(map[string]vm{"virtrigaud": found})
	if err != nil {
		return nil, err
	}
	return &describeResponse{exists: true, powerState: found.Power, ips: found.IPs, consoleURL: found.Console,
		providerRawJSON: string(raw)}, nil
}

func describeHandler(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
	req := new(describeRequest)
	if err := dec(req); err != nil {
		return nil, err
	}
	return srv.(*store).describe(ctx, req)
}

var service = grpc.ServiceDesc{
	ServiceName: "provider.v1.Provider",
	HandlerType: (*any)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Describe", Handler: describeHandler}},
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve on")
	ids := flag.String("vms", "", "comma-separated VM ids to keep in the map")
	portFile := flag.String("port-file", "", "write the bound port here once serving")
	flag.Parse()
	s := &store{vms: map[string]vm{}}
	for _, id := range strings.Split(*ids, ",") {
		if id != "" {
			s.vms[id] = newVM(id)
		}
	}
	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	if *portFile != "" {
		port := fmt.Sprint(listener.Addr().(*net.TCPAddr).Port)
		if err := os.WriteFile(*portFile, []byte(port), 0o600); err != nil {
			log.Fatal(err)
		}
	}
	server := grpc.NewServer(grpc.ForceServerCodec(codec{}))
	server.RegisterService(&service, s)
	if err := server.Serve(listener); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		log.Fatal(err)
	}
}
