package main

import (
	"context"
	"errors"
)

func (m *Main) cmdAPIKeyCreate(ctx context.Context, args []string) error {
	return errors.New("apikey create is not built yet")
}
