"""Conversation intake: a buyer's message becomes evidence rows, a filed case and a card.

One module per step, in the order a message goes through them:

1. `classify`  - the message's verdict, computed once (`message_classifier`)
2. `record`    - buyer, case and message rows (`record_rows`, `record_fresh_messages`);
                 `attachments` downloads its files; `inbox` stores raw updates first and replays
3. `file_case` - the case's category and order id (`bot.core.case_filing`)
4. `route`     - the chat and topic for the case's cards (`bot.core.routing`)
5. `waiting`   - the waiting clock and its ack / target jobs
6. `cards`     - suggestions, card rows, buyer history (`bot.core.buyer_history`), card views
7. `posted`    - where the cards went; the updates marked processed with it

`flow` runs them, for a batch (`take_in_batch`) or one update (`card_recorded`). The services take
the database and return plain data (`PendingCard`); `bot.tg.inbox` renders and sends.
"""
