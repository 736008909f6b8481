// Command vcsim-launcher serves the govmomi vCenter simulator for the
// virtrigaud.core test bed: a VPX inventory of a known size, on loopback,
// over TLS with the given certificate, behind one set of credentials.
//
// It also plays the part of VMware Tools, which the simulator leaves out: a
// powered-on VM reports tools running and one IPv4 address per NIC, derived
// from the NIC's MAC, the way a real vCenter reports what guests tell it.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8989", "host:port to serve on")
	username := flag.String("username", "user", "the one user name accepted")
	password := flag.String("password", "pass", "its password")
	certFile := flag.String("cert", "", "TLS certificate (PEM); plain HTTP when empty")
	keyFile := flag.String("key", "", "TLS private key (PEM)")
	clusters := flag.Int("clusters", 1, "clusters in the datacenter")
	hostsPerCluster := flag.Int("cluster-hosts", 2, "hosts in each cluster")
	standaloneHosts := flag.Int("hosts", 1, "standalone hosts")
	machines := flag.Int("vms", 2, "VMs per host and per resource pool")
	urlFile := flag.String("url-file", "", "write the SDK URL here once serving")
	flag.Parse()

	model := simulator.VPX()
	model.Datacenter = 1
	model.Cluster = *clusters
	model.ClusterHost = *hostsPerCluster
	model.Host = *standaloneHosts
	model.Machine = *machines
	if err := model.Create(); err != nil {
		log.Fatalf("building the inventory: %v", err)
	}
	defer model.Remove()

	model.Service.Listen = &url.URL{Host: *listen, User: url.UserPassword(*username, *password)}
	if *certFile != "" {
		pair, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			log.Fatalf("loading the TLS key pair: %v", err)
		}
		model.Service.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	}
	server := model.Service.NewServer()
	defer server.Close()

	sdk := *server.URL
	sdk.User = nil
	if *urlFile != "" {
		if err := os.WriteFile(*urlFile, []byte(sdk.String()+"\n"), 0o644); err != nil {
			log.Fatalf("writing %s: %v", *urlFile, err)
		}
	}
	go simulateGuestTools(model.Service.Context, 200*time.Millisecond)
	fmt.Printf("vcsim serving %s with %d VMs\n", sdk.String(), model.Count().Machine)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}

func simulateGuestTools(ctx *simulator.Context, every time.Duration) {
	for range time.Tick(every) {
		for _, ref := range ctx.Map.AllReference("VirtualMachine") {
			if vm, ok := ref.(*simulator.VirtualMachine); ok {
				ctx.WithLock(vm, func() { reportGuest(ctx, vm) })
			}
		}
	}
}

// reportGuest publishes what tools in a running guest would: status and IPs.
func reportGuest(ctx *simulator.Context, vm *simulator.VirtualMachine) {
	running := vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn
	if running == (vm.Guest.ToolsRunningStatus == string(types.VirtualMachineToolsRunningStatusGuestToolsRunning)) {
		return
	}
	status := types.VirtualMachineToolsRunningStatusGuestToolsNotRunning
	address := ""
	var nics []types.GuestNicInfo
	if running {
		status = types.VirtualMachineToolsRunningStatusGuestToolsRunning
		for _, device := range vm.Config.Hardware.Device {
			card, ok := device.(types.BaseVirtualEthernetCard)
			if !ok {
				continue
			}
			mac := card.GetVirtualEthernetCard().MacAddress
			ip := addressFor(mac)
			if address == "" {
				address = ip
			}
			nics = append(nics, types.GuestNicInfo{
				MacAddress: mac, Connected: true, DeviceConfigId: device.GetVirtualDevice().Key, IpAddress: []string{ip},
			})
		}
	}
	ctx.Update(vm, []types.PropertyChange{
		{Name: "guest.toolsRunningStatus", Val: string(status)},
		{Name: "guest.toolsStatus", Val: toolsStatus(running)},
		{Name: "guest.ipAddress", Val: address},
		{Name: "guest.net", Val: nics},
		{Name: "summary.guest.ipAddress", Val: address},
	})
}

func toolsStatus(running bool) types.VirtualMachineToolsStatus {
	if running {
		return types.VirtualMachineToolsStatusToolsOk
	}
	return types.VirtualMachineToolsStatusToolsNotRunning
}

// addressFor gives each MAC a stable address in 10.0.0.0/8 from its last three bytes.
func addressFor(mac string) string {
	var parts [6]int
	if _, err := fmt.Sscanf(mac, "%x:%x:%x:%x:%x:%x", &parts[0], &parts[1], &parts[2], &parts[3], &parts[4], &parts[5]); err != nil {
		return "10.0.0.1"
	}
	return fmt.Sprintf("10.%d.%d.%d", parts[3], parts[4], parts[5]|1)
}
