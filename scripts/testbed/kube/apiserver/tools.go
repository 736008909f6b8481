//go:build tools

// The test bed builds kube-apiserver from this module: the import pins it.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
