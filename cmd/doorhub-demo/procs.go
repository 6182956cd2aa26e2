package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// lineWriter serializes writes so that lines from the activity tail and
// the comings and goings never interleave.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func newLineWriter(w io.Writer) *lineWriter { return &lineWriter{w: w} }

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// proc is a long-running child: a server the demo started.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when it exited and was reaped
	err  error
}

// stopGrace is how long a server has to stop after SIGTERM before it is
// killed.
const stopGrace = 15 * time.Second

// start runs a server in the background, its stderr (and its stdout, but
// for the lines read through lines) in logs/NAME.log. It dies with the
// demo even if the demo is killed (Pdeathsig).
func (d *demo) start(name string, args []string, lines func(string)) (*proc, error) {
	logf, err := os.Create(filepath.Join(d.dir, "logs", name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(d.bin, name), args...)
	cmd.Env = d.env()
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	var out io.ReadCloser
	if lines != nil {
		if out, err = cmd.StdoutPipe(); err != nil {
			logf.Close()
			return nil, err
		}
	} else {
		cmd.Stdout = logf
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	d.procs = append(d.procs, p)
	var copied sync.WaitGroup
	if out != nil {
		copied.Add(1)
		go func() {
			defer copied.Done()
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				fmt.Fprintln(logf, sc.Text())
				lines(sc.Text())
			}
			_, _ = io.Copy(logf, out)
		}()
	}
	go func() {
		copied.Wait() // Wait closes the pipe: read it all first
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stopAll stops the servers, newest first: SIGTERM, then SIGKILL after
// stopGrace. It returns the names of any that could not be reaped.
func (d *demo) stopAll() (left []string) {
	for i := len(d.procs) - 1; i >= 0; i-- {
		p := d.procs[i]
		if !p.exited() {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
		select {
		case <-p.done:
		case <-time.After(stopGrace):
			d.say("%s did not stop within %s: killing it", p.name, stopGrace)
			_ = p.cmd.Process.Kill()
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
				left = append(left, fmt.Sprintf("%s (pid %d)", p.name, p.cmd.Process.Pid))
			}
		}
	}
	return left
}

// cli runs one of the project's commands to its end and returns its
// standard output; an error carries its standard error.
func (d *demo) cli(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(d.bin, name), args...)
	cmd.Env = d.env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// env is the children's environment: the cloud's state directory, as the
// commands the demo prints expect it.
func (d *demo) env() []string {
	return append(os.Environ(), "DOORHUB_CLOUD_STATE="+filepath.Join(d.dir, "cloud"))
}
