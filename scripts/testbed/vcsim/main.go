// Command vcsim-launcher serves the govmomi vCenter simulator for the
// virtrigaud.core test bed: a VPX inventory of a known size, on loopback,
// over TLS with the given certificate, behind one set of credentials.
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

	"github.com/vmware/govmomi/simulator"
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
	fmt.Printf("vcsim serving %s with %d VMs\n", sdk.String(), model.Count().Machine)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}
