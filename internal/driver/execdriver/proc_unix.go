//go:build unix

package execdriver

import (
	"os/exec"
	"syscall"
)

// killGroup makes cmd run in its own process group and makes cancellation
// kill the whole group, so a script's children do not outlive a timeout.
func killGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
