package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestServiceConfigErrors: the services refuse bad flags before any I/O, saying what is
// wrong and how to fix it.
func TestServiceConfigErrors(t *testing.T) {
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"sink"}, []string{"--kafka-brokers is required", "tickflow run"}},
		{[]string{"normalize"}, []string{"--kafka-brokers is required"}},
		{[]string{"normalize", "--kafka-brokers", "k:9092", "--venues", "nosuch"}, []string{`unknown venue "nosuch"`}},
		{[]string{"sink", "--kafka-brokers", "k:9092", "--session-timeout", "2s"}, []string{"session timeout 2s is below 3s"}},
		{[]string{"sink", "--kafka-brokers", "k:9092", "--heartbeat-interval", "5s"}, []string{"more than a third of the session timeout", "--heartbeat-interval"}},
		{[]string{"sink", "--kafka-brokers", "k:9092", "--metrics-addr", "nope"}, []string{`--metrics-addr "nope"`, "host:port"}},
		{[]string{"sink", "--kafka-brokers", "k:9092", "--batch-rows", "-1", "--fetch-max-bytes", "10"}, []string{"--batch-rows -1", "--fetch-max-bytes 10"}},
		{[]string{"sink", "--kafka-brokers", "k:9092", "--group", ""}, []string{"--group is empty"}},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		if code := mainErr(c.args, &out, &errOut); code != 1 {
			t.Errorf("%v: exit %d, want 1 (stderr %q)", c.args, code, errOut.String())
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(errOut.String(), w) {
				t.Errorf("%v: stderr %q lacks %q", c.args, errOut.String(), w)
			}
		}
	}
}
