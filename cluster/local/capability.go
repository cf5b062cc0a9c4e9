package local

import (
	"errors"

	"github.com/zkchaos/zkchaos/cluster"
)

// Can says why the ensemble cannot do what need names, or nil: link faults
// need the proxies of Config.Partitions, clock faults the libfaketime of
// Config.Clock, membership changes the dynamic configuration of
// Config.Reconfig and disk faults the diskfs of Config.Disk, all set up when
// the nodes start.
func (e *Ensemble) Can(need cluster.Capability) error {
	switch need {
	case cluster.CapPartition, cluster.CapClients, cluster.CapLink:
		if e.links == nil {
			return errors.New("the ensemble was started without partition support")
		}
	case cluster.CapClock, cluster.CapClockRate:
		if e.clock == nil {
			return errors.New("the ensemble was started without clock support")
		}
	case cluster.CapReconfig:
		if e.reconf == nil {
			return errNoReconfig
		}
	case cluster.CapDisk, cluster.CapDiskIO:
		if !e.cfg.Disk {
			return errors.New("the ensemble was started without disk-fault support")
		}
	}
	return nil
}
