// Package all registers every venue connector with the collectors registry. Only cmd/
// imports it.
package all

import (
	_ "github.com/tickflow/tickflow/collectors/binance" // Binance spot
)
