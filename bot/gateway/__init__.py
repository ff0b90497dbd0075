"""The gateway: every inbound message passes through here, in order (DESIGN.md, "One inbound
SMS, in order"): dedupe, redact, keywords and opt-outs, safety net, handoff routing, Rasa,
outbound rules."""
