// The etcd server tripod's tests, sandbox and benchmarks run: the same release the nodes install
// (src/spec/versions.ts), built from the Go module pinned in ../go.mod by scripts/setup.sh.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
