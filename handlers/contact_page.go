package handlers

import (
	"context"

	"atrium/store"
)

// contactDealsShown bounds the deals panel of a contact page; the panel
// links to the full list past it.
const contactDealsShown = 20

// contactExtras adds to a contact page its deals and its timeline in words.
func contactExtras(ctx context.Context, wc *workspaceCtx, p *contactPage) error {
	deals, next, err := store.ListDeals(ctx, wc.lease.DB, store.DealFilter{ContactID: p.Contact.ID, Limit: contactDealsShown})
	if err != nil {
		return err
	}
	p.Deals, p.MoreDeals = deals, next != ""
	return describeTimeline(ctx, wc, store.KindContact, p.Members, p.Timeline)
}

// describeTimeline puts a contact's or company's timeline in words: who
// did it by name (members and API keys), and each change as a sentence.
func describeTimeline(ctx context.Context, wc *workspaceCtx, k store.Kind, members []store.Member, items []store.TimelineItem) error {
	names, err := store.LoadNames(ctx, wc.lease.DB, k, members)
	if err != nil {
		return err
	}
	changes := make([]map[string]store.Change, len(items))
	for i, it := range items {
		changes[i] = it.Changes()
	}
	if err := names.LoadRecords(ctx, wc.lease.DB, changes); err != nil {
		return err
	}
	names.Describe(items)
	return nil
}
