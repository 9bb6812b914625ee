//go:build mpi

package distributed

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goqat/goqat/nn"
	"github.com/goqat/goqat/tensor"
)

// workerEnv names the folder where the ranks started by mpirun write
// their weights; killEnv, if set, makes rank 1 exit ("exit") or stop
// responding ("stall") in the middle of training.
const (
	workerEnv = "GOQAT_MPI_TEST_DIR"
	killEnv   = "GOQAT_MPI_TEST_KILL"
)

// mpirun runs this test binary's TestMPIWorker on 2 ranks with one thread
// each and returns its output and error; it skips the test when mpirun is
// missing.
func mpirun(t *testing.T, dir, kill string, limit time.Duration) ([]byte, error) {
	t.Helper()
	bin, err := exec.LookPath("mpirun")
	if err != nil {
		t.Skip("mpirun not found (Debian: apt-get install openmpi-bin libopenmpi-dev); skipping the MPI test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--allow-run-as-root", "--oversubscribe", "-np", "2",
		os.Args[0], "-test.run", "^TestMPIWorker$", "-test.v")
	cmd.Env = append(os.Environ(), workerEnv+"="+dir, "GOQAT_THREADS=1")
	if kill != "" {
		cmd.Env = append(cmd.Env, killEnv+"="+kill)
	}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("mpirun did not end within %v (a hang):\n%s", limit, out)
	}
	return out, err
}

// TestMPITwoRanks trains a float model and its QAT model, with per-block
// and with synchronized BatchNorm, on 2 MPI ranks x 1 thread and checks
// that both ranks end with the weights of one process (the default number
// of threads) with the same 2 blocks per batch, bit for bit.
func TestMPITwoRanks(t *testing.T) {
	dir := t.TempDir()
	out, err := mpirun(t, dir, "", 5*time.Minute)
	if err != nil {
		t.Fatalf("mpirun: %v\n%s", err, out)
	}
	for _, sync := range []bool{false, true} {
		for _, qat := range []bool{false, true} {
			one := buildTiny(t, convBNDropout, qat)
			o := mpiFitOpts()
			tr := mustTrainer(t, Local{}, 2)
			tr.SetSyncBN(sync)
			o.DataParallel = tr
			if _, err := one.Fit(context.Background(), mpiData(), mpiLabels(), o); err != nil {
				t.Fatal(err)
			}
			want := encode(values(one))
			for r := 0; r < 2; r++ {
				got, err := os.ReadFile(filepath.Join(dir, name(qat, sync, r)))
				if err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("qat %v, synchronized BatchNorm %v: rank %d's weights differ from one process's", qat, sync, r)
				}
			}
		}
	}
}

// TestMPIRankDies kills rank 1 in the middle of training: the job must end
// with an error, not hang. Then rank 1 stops responding instead (a hung
// machine): rank 0's collective must time out with ErrTimeout's message.
func TestMPIRankDies(t *testing.T) {
	start := time.Now()
	out, err := mpirun(t, t.TempDir(), "exit", 2*time.Minute)
	if err == nil {
		t.Fatalf("the job succeeded though rank 1 died:\n%s", out)
	}
	t.Logf("rank 1 exited: the job ended in %v: %v; output:\n%s", time.Since(start).Round(time.Millisecond), err, lastLines(out, 8))
	start = time.Now()
	out, err = mpirun(t, t.TempDir(), "stall", 2*time.Minute)
	if err == nil || !strings.Contains(string(out), "collective timed out") {
		t.Fatalf("rank 1 stalled: err %v, want a timeout error from rank 0:\n%s", err, out)
	}
	t.Logf("rank 1 stalled: the job ended in %v: %v; output:\n%s", time.Since(start).Round(time.Millisecond), err, lastLines(out, 8))
	// With synchronized BatchNorm rank 0 waits inside a BatchNormalization's
	// exchange: the same timeout ends it.
	start = time.Now()
	out, err = mpirun(t, t.TempDir(), "stall-sync", 2*time.Minute)
	if err == nil || !strings.Contains(string(out), "collective timed out") || !strings.Contains(string(out), "synchronized BatchNorm") {
		t.Fatalf("rank 1 stalled with synchronized BatchNorm: err %v, want a timeout error from rank 0's BatchNorm exchange:\n%s", err, out)
	}
	t.Logf("rank 1 stalled, synchronized BatchNorm: the job ended in %v: %v; output:\n%s", time.Since(start).Round(time.Millisecond), err, lastLines(out, 8))
}

// TestMPIWorker is one rank of the jobs above (run by mpirun only).
func TestMPIWorker(t *testing.T) {
	dir := os.Getenv(workerEnv)
	if dir == "" {
		t.Skip("a rank of TestMPITwoRanks, run under mpirun")
	}
	timeout := 20 * time.Second
	if strings.HasPrefix(os.Getenv(killEnv), "stall") {
		timeout = 3 * time.Second
	}
	comm, err := Open(timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer comm.Close()
	if os.Getenv(chainEnv) != "" {
		chainCheck(t, comm)
		return
	}
	if comm.Size() != 2 {
		t.Fatalf("world of %d ranks, want 2", comm.Size())
	}
	if os.Getenv(benchEnv) != "" {
		allreduceTimes(t, comm)
		return
	}
	kill := os.Getenv(killEnv)
	for _, sync := range []bool{false, true} {
		if kill == "stall-sync" && !sync {
			continue
		}
		for _, qat := range []bool{false, true} {
			m := buildTiny(t, convBNDropout, qat)
			o := mpiFitOpts()
			tr := mustTrainer(t, comm, 0)
			tr.SetSyncBN(sync)
			o.DataParallel = tr
			if kill != "" && comm.Rank() == 1 {
				o.OnBatchEnd = func(batch int, _ float64) {
					if batch == 3 && strings.HasPrefix(kill, "stall") {
						time.Sleep(time.Minute)
					}
					if batch == 3 {
						os.Exit(3)
					}
				}
			}
			if _, err := m.Fit(context.Background(), mpiData(), mpiLabels(), o); err != nil {
				t.Fatalf("rank %d: %v", comm.Rank(), err)
			}
			if err := os.WriteFile(filepath.Join(dir, name(qat, sync, comm.Rank())), encode(values(m)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func mpiFitOpts() nn.FitOptions {
	return nn.FitOptions{BatchSize: 16, Epochs: 3, Seed: 5, Verbose: nn.VerboseSilent}
}

var mpiX, mpiY = tinyData(200, 9)

func mpiData() *tensor.Tensor   { return mpiX }
func mpiLabels() *tensor.Tensor { return mpiY }

func name(qat, sync bool, rank int) string {
	return "rank" + strconv.Itoa(rank) + map[bool]string{false: "-float", true: "-qat"}[qat] + map[bool]string{false: "", true: "-syncbn"}[sync] + ".bin"
}

// encode is the values' bits, little-endian.
func encode(v [][]float32) []byte {
	var b []byte
	for _, s := range v {
		for _, x := range s {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
		}
	}
	return b
}

func lastLines(b []byte, n int) string {
	l := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

// chainEnv makes TestMPIWorker check ChainSum on any number of ranks
// instead of training.
const chainEnv = "GOQAT_MPI_TEST_CHAIN"

// TestMPIChainRanks checks ChainSum (MPI_Sendrecv up and down the chain)
// on 2, 3 and 4 MPI ranks against sumRanks, bit for bit (chainCheck).
func TestMPIChainRanks(t *testing.T) {
	bin, err := exec.LookPath("mpirun")
	if err != nil {
		t.Skip("mpirun not found; skipping the MPI test")
	}
	for _, n := range []string{"2", "3", "4"} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, bin, "--allow-run-as-root", "--oversubscribe", "-np", n,
			os.Args[0], "-test.run", "^TestMPIWorker$", "-test.v")
		cmd.Env = append(os.Environ(), workerEnv+"="+t.TempDir(), chainEnv+"=1", "GOQAT_THREADS=1")
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil || !strings.Contains(string(out), "chain sums agree") {
			t.Fatalf("%s ranks: %v\n%s", n, err, out)
		}
	}
}

// chainCheck is TestMPIChainRanks's worker: every rank's vector (values
// whose sum depends on the order of additions), of 1 value, one piece
// and 2 pieces and a tail, summed by AllreduceSum (ChainSum) and by a
// Trainer-style ChainSum of two contributions per rank, against sumRanks
// of all of them.
func chainCheck(t *testing.T, comm Comm) {
	vals := []float32{1e8, 1, -1e8, 1, 1, 1e8, -1e8, 0.5}
	n, r := comm.Size(), comm.Rank()
	val := func(rank, i int) float32 { return vals[(i*3+rank*5+i/ChainPiece)%len(vals)] }
	for _, m := range []int{1, ChainPiece, 2*ChainPiece + 7} {
		all := make([]float32, 0, 2*n*m)
		for k := 0; k < 2*n; k++ {
			for i := 0; i < m; i++ {
				all = append(all, val(k, i))
			}
		}
		// One contribution per rank: blocks 0 .. n-1 of all.
		want := make([]float32, m)
		sumRanks(want, all[:n*m])
		v := make([]float32, m)
		for i := range v {
			v[i] = val(r, i)
		}
		if err := comm.AllreduceSum(v); err != nil {
			t.Fatal(err)
		}
		// Two per rank, blocks 2r and 2r+1 of 2n, added in order.
		want2 := make([]float32, m)
		sumRanks(want2, all)
		w := make([]float32, m)
		if err := comm.ChainSum(w, func(p []float32, lo int, first bool) {
			for k := 2 * r; k < 2*r+2; k++ {
				for i := range p {
					if first && k == 0 {
						p[i] = val(k, lo+i)
					} else {
						p[i] += val(k, lo+i)
					}
				}
			}
		}); err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if math.Float32bits(v[i]) != math.Float32bits(want[i]) || math.Float32bits(w[i]) != math.Float32bits(want2[i]) {
				t.Fatalf("rank %d of %d, %d values: sum[%d] = %v and %v, want %v and %v", r, n, m, i, v[i], w[i], want[i], want2[i])
			}
		}
	}
	t.Logf("rank %d of %d: chain sums agree with sumRanks", r, n)
}

// benchEnv makes TestMPIWorker time AllreduceSum instead of training.
const benchEnv = "GOQAT_MPI_TEST_BENCH"

// TestMPIAllreduceTimes prints the time of one AllreduceSum (the chain of
// ranks, ChainSum) and of the Allgather and rank-order sum it replaced, of
// float32 vectors of growing size on 2 ranks, the median of 5 after one
// warm-up (docs/distributed.md, Measured).
func TestMPIAllreduceTimes(t *testing.T) {
	if testing.Short() {
		t.Skip("a measurement, not run with -short")
	}
	bin, err := exec.LookPath("mpirun")
	if err != nil {
		t.Skip("mpirun not found; skipping the MPI measurement")
	}
	cmd := exec.Command(bin, "--allow-run-as-root", "--oversubscribe", "-np", "2",
		os.Args[0], "-test.run", "^TestMPIWorker$", "-test.v")
	cmd.Env = append(os.Environ(), workerEnv+"="+t.TempDir(), benchEnv+"=1", "GOQAT_THREADS=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mpirun: %v\n%s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "allreduce") {
			t.Log(strings.TrimSpace(l))
		}
	}
}

// allreduceTimes is TestMPIAllreduceTimes's worker: rank 0 logs one line
// per size and method, the chain (AllreduceSum, ChainSum) and the
// Allgather then the rank-order sum (sumRanks) that it replaced.
func allreduceTimes(t *testing.T, comm Comm) {
	var all []float32
	gather := func(v []float32) error {
		all = grow(all, comm.Size()*len(v))
		if err := comm.Allgather(all, v); err != nil {
			return err
		}
		sumRanks(v, all)
		return nil
	}
	for _, n := range []int{1 << 10, 1 << 14, 1 << 18, 1 << 20, 3_504_872, 1 << 23, 25_557_032} {
		for _, m := range []struct {
			name string
			sum  func([]float32) error
		}{{"chain", comm.AllreduceSum}, {"allgather", gather}} {
			v := make([]float32, n)
			var ds []time.Duration
			for i := 0; i < 6; i++ {
				for j := range v {
					v[j] = float32(j % 7)
				}
				if err := comm.Barrier(); err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				if err := m.sum(v); err != nil {
					t.Fatal(err)
				}
				if i > 0 {
					ds = append(ds, time.Since(start))
				}
			}
			if v[3] != float32(3*comm.Size()) {
				t.Fatalf("%s: sum %v, want %v", m.name, v[3], 3*comm.Size())
			}
			slices.Sort(ds)
			if comm.Rank() == 0 {
				med := ds[len(ds)/2]
				t.Logf("allreduce %-9s %d ranks %10d float32 (%8.2f MB): median %10.3f ms, %6.2f GB/s of gradient", m.name, comm.Size(), n, float64(4*n)/1e6, float64(med.Microseconds())/1e3, float64(4*n)/med.Seconds()/1e9)
			}
		}
	}
}
