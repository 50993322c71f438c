"""`TemplateGenerator`: hand-written delexicalised replies, a couple of variants per act.

A variant is usable when every placeholder it contains has a value in the act, and the richest usable
variants win (so "should arrive by [expected_delivery]" is said whenever the CRM has a date). Among those,
the choice is deterministic: it rotates with the turn index so a repeated act does not sound canned.
"""

from __future__ import annotations

import zlib

from dialogue.acts import DialogueAct, GeneratedReply, ReplyContext, placeholders

TEMPLATES: dict[str, list[str]] = {
    "greet": [
        "Hi [customer_name], thanks for calling [company]. I'm the virtual assistant. How can I help you "
        "today?",
        "Hello [customer_name], welcome to [company]. I'm an automated assistant. What can I do for you?",
        "Thanks for calling [company]. I'm the virtual assistant. How can I help you today?",
        "Welcome to [company]. I'm an automated assistant. What can I do for you today?",
    ],
    "outbound_order": [
        "Hello [customer_name], this is the [company] virtual assistant calling about your order "
        "[order_number].",
        "Hello, this is the [company] virtual assistant calling about order [order_number].",
    ],
    "outbound_ticket": [
        "Hello [customer_name], this is the [company] virtual assistant calling about your ticket "
        "[ticket_id]. Our team is working on it. Is there anything you'd like to add?",
        "Hello, this is the [company] virtual assistant calling about ticket [ticket_id]. Our team is "
        "working on it. Is there anything you'd like to add?",
    ],
    "outbound_ticket_closed": [
        "Hello [customer_name], this is the [company] virtual assistant calling about your ticket "
        "[ticket_id], which has been closed. Is there anything else I can help you with?",
        "Hello, this is the [company] virtual assistant calling about ticket [ticket_id], which has been "
        "closed. Is there anything else I can help you with?",
    ],
    "outbound_callback": [
        "Hello [customer_name], this is the [company] virtual assistant returning your call. How can I help?",
        "Hello, this is the [company] virtual assistant returning your call. How can I help?",
    ],
    "ask_how_help": ["How can I help you?", "What can I help you with?"],
    "ask_questions": [
        "Do you have any questions about it?",
        "Is there anything you'd like to know about it?",
    ],
    "system_error": [
        "Sorry, I'm having trouble reaching our systems right now. Would you like me to connect "
        "you to a person?",
        "Sorry, our systems aren't responding at the moment. Shall I put you through to a person?",
    ],
    "ask_order_number_again": [
        "What's the order number?",
        "Could you tell me the order number again? You can also type it on the keypad, then press hash.",
    ],
    "ask_complaint_details_again": [
        "Could you tell me what happened?",
        "Could you describe the problem for me?",
    ],
    "offer_agent_again": [
        "Would you like me to connect you to a person?",
        "Shall I put you through to a person?",
    ],
    "ask_callback": ["Would you like someone to call you back?", "Shall I arrange a callback?"],
    "offer_agent_upset": [
        "I can hear this has been frustrating, and I'm sorry. Would you like me to connect you to a person?",
        "I'm sorry this has been so frustrating. Shall I put you through to a person?",
    ],
    "offer_callback_upset": [
        "I can hear this has been frustrating, and I'm sorry. No one is free to take the call right now; "
        "would you like someone to call you back?",
        "I'm sorry this has been so frustrating. Our team can't take calls at the moment; shall I arrange a "
        "callback?",
    ],
    "order_pending": [
        "Order [order_number] is [order_status]: we've received it and it hasn't been processed yet. It "
        "should arrive by [expected_delivery].",
        "Order [order_number] is [order_status]: we've received it and it hasn't been processed yet.",
    ],
    "order_processing": [
        "Order [order_number] is [order_status] in our warehouse and should arrive by [expected_delivery].",
        "Order [order_number] is [order_status] in our warehouse.",
    ],
    "order_shipped": [
        "Order [order_number] has [order_status]. It went out with [carrier] on [shipped_on] and should "
        "arrive by [expected_delivery].",
        "Good news: order [order_number] [order_status] with [carrier] on [shipped_on] and is due by "
        "[expected_delivery].",
        "Order [order_number] has [order_status] with [carrier] and should arrive by [expected_delivery].",
        "Order [order_number] has [order_status] and should arrive by [expected_delivery].",
        "Order [order_number] has [order_status].",
    ],
    "order_out_for_delivery": [
        "Order [order_number] is [order_status] with [carrier] and should reach you by [expected_delivery].",
        "Good news: order [order_number] is [order_status] with [carrier], due by [expected_delivery].",
        "Order [order_number] is [order_status].",
    ],
    "order_delivered": [
        "Order [order_number] was [order_status] on [delivered_on].",
        "Our records show order [order_number] was [order_status] on [delivered_on] by [carrier].",
        "Order [order_number] has been [order_status].",
    ],
    "order_cancelled": [
        "Order [order_number] was [order_status], so it won't be shipped.",
        "Order [order_number] has been [order_status] and will not be delivered.",
    ],
    "order_returned": [
        "Order [order_number] was [order_status] to us.",
        "Our records show order [order_number] has been [order_status].",
    ],
    "order_late": [
        "I'm sorry, order [order_number] is running late: it was due by [expected_delivery], and its status "
        "is [order_status]. The carrier is [carrier].",
        "I'm sorry, order [order_number] is running late: it was due by [expected_delivery], and its status "
        "is [order_status].",
        "I'm sorry, order [order_number] hasn't reached you yet: it was due by [expected_delivery]. Its "
        "status is [order_status].",
    ],
    "order_not_found": [
        "I couldn't find order [order_number]. Would you like to try another number, or talk to a person?",
        "Sorry, I found no order [order_number] in our system. You can say the number again, or ask for a "
        "person.",
    ],
    "ask_order_number": [
        "Sure. What's the order number? I can see [order_list] on your account.",
        "Sure, I can check that. What's your order number?",
        "Of course. Could you tell me the order number? You can also type it on the keypad, then press hash.",
    ],
    "product_in_stock": [
        "The [product_name] costs [product_price] and we have [stock] in stock. [description]",
        "The [product_name] is [product_price], and it's in stock. [description]",
        "The [product_name] costs [product_price] and it's in stock.",
    ],
    "product_out_of_stock": [
        "The [product_name] costs [product_price], but it's out of stock right now.",
        "The [product_name] is [product_price], but I'm afraid it's currently out of stock.",
    ],
    "product_unknown": [
        "I couldn't find that in our catalog. We have [product_list].",
        "Sorry, we don't seem to carry that. Our products include [product_list].",
    ],
    "ask_product": [
        "Which product are you interested in? We have [product_list].",
        "Sure. Which product do you mean? For example, [product_list].",
    ],
    "purchase_in_stock": [
        "Great choice. The [product_name] is [product_price] and in stock. You can order it on our website "
        "or app; we don't take payments over the phone.",
        "The [product_name] costs [product_price] and it's available. To buy it, please order on our website "
        "or in our app, as we can't take payment by phone.",
    ],
    "purchase_out_of_stock": [
        "The [product_name] costs [product_price], but it's out of stock right now. Once it's back, you can "
        "order it on our website or app; we don't take payments over the phone.",
        "I'm sorry, the [product_name] at [product_price] is currently out of stock. When it returns, you "
        "can order it on our website or app.",
    ],
    "ask_complaint_details": [
        "I'm sorry to hear that. Can you tell me what happened?",
        "I'm sorry about that. Please tell me what went wrong, and I'll pass it to the right team.",
    ],
    "ticket_opened": [
        "I'm sorry about that. I've opened ticket [ticket_id] about order [order_number] for our [team] "
        "team, and they will contact you within one business day.",
        "Thank you for telling us. I've logged it as ticket [ticket_id], about order [order_number], and our "
        "[team] team will follow up within one business day.",
        "I'm sorry about that. I've opened ticket [ticket_id] for our [team] team, and they will contact you "
        "within one business day.",
        "Thank you for telling us. I've logged it as ticket [ticket_id], and our [team] team will follow up "
        "within one business day.",
    ],
    "return_policy": [
        "You can return any item within [return_days] days of delivery. If you tell me the order number, I "
        "can check it and start the return.",
        "Items can be returned within [return_days] days of delivery. Tell me the order number and I'll check "
        "it for you.",
    ],
    "return_opened": [
        "I've started a return for order [order_number]: ticket [ticket_id] with our [team] team. They'll "
        "send you a return label.",
        "Done. Return ticket [ticket_id] is open for order [order_number], and our [team] team will send you "
        "a return label.",
    ],
    "return_not_possible": [
        "Returns can only be started for delivered orders, within [return_days] days of delivery, so I can't "
        "start one for this order.",
        "I can only start a return for a delivered order, within [return_days] days of delivery, so I can't "
        "start one for this order.",
    ],
    "transfer": [
        "Sure, I'm transferring you to a colleague now. Please hold.",
        "Of course. Connecting you to a person now, one moment please.",
    ],
    "no_agent_offer_callback": [
        "I'm sorry, no one is available to take the call right now. Would you like someone to call you back?",
        "Unfortunately our team can't take calls at the moment. Shall I arrange a callback?",
    ],
    "callback_opened": [
        "Done. I've asked our [team] team to call you back; your reference is ticket [ticket_id].",
        "I've arranged a callback from our [team] team, ticket number [ticket_id].",
    ],
    "ask_contact_field": [
        "Sure. Which detail would you like to update: your email, phone number, or address?",
        "Of course. Is it your email, your phone number, or your address that changed?",
    ],
    "contact_update_opened": [
        "For your security I can't take the new [contact_field] by voice, so I've asked our [team] team to "
        "call you back and update it. Your reference is ticket [ticket_id].",
        "I've opened ticket [ticket_id] so our [team] team can contact you and update your [contact_field] "
        "securely.",
    ],
    "greet_back": [
        "Hello [customer_name]! How can I help you today?",
        "Hello! How can I help you today?",
        "Hi there! What can I do for you?",
    ],
    "youre_welcome": ["You're welcome!", "My pleasure!"],
    "offer_more": ["Is there anything else I can help you with?", "Can I help you with anything else?"],
    "ask_what_else": ["Sure, what else can I help you with?", "Of course. What else do you need?"],
    "goodbye": [
        "Thanks for calling [company], [customer_name]. Goodbye!",
        "Thank you for calling [company]. Have a great day, goodbye!",
        "Thanks for calling [company]. Goodbye!",
    ],
    "goodbye_no_input": [
        "I haven't heard anything, so I'll end the call now. Please call again any time. Goodbye.",
        "It seems we've lost the connection, so I'll hang up now. Goodbye.",
    ],
    "still_there": ["Are you still there?", "Hello, are you still there?"],
    "not_understood": ["Sorry, I didn't catch that.", "Sorry, I didn't catch that, could you say it again?"],
    "rephrase": [
        "Sorry, I'm not sure I understood. Could you say that another way?",
        "I'm sorry, I didn't quite get that. Could you rephrase it?",
    ],
    "capabilities": [
        "I can check the status of an order, tell you about our products and prices, help with returns and "
        "complaints, or connect you to a person. What would you like to do?",
        "I'm able to look up orders, answer questions about products and prices, take complaints and "
        "returns, or put you through to a person. How can I help?",
    ],
    "offer_agent": [
        "I'm having trouble understanding. Would you like me to connect you to a person?",
        "Sorry, I'm struggling to understand. Shall I put you through to a person?",
    ],
    "repeat": ["Of course. [last_reply]", "Sure, I said: [last_reply]"],
    "nothing_to_repeat": ["I haven't said anything yet. How can I help you?",
                          "Sorry, there's nothing to repeat yet. What can I do for you?"],
    "dtmf_empty": [
        "Please type the order number on your keypad, then press hash.",
        "Please enter the digits of your order number, followed by the hash key.",
    ],
}


class TemplateGenerator:
    """`name` labels its turns: "template", or "fallback:stale" when it stands in for a model that cannot
    load (see dialogue.seq2seq.load_generator)."""

    def __init__(self, templates: dict[str, list[str]] | None = None, name: str = "template") -> None:
        self.templates = templates if templates is not None else TEMPLATES
        self.name = name

    def generate(self, act: DialogueAct, context: ReplyContext) -> GeneratedReply:
        variants = self.templates.get(act.name)
        if not variants:
            raise KeyError(f"no template for act {act.name!r}")
        available = set(act.values)
        usable = [v for v in variants if placeholders(v) <= available]
        if not usable:
            raise KeyError(f"act {act.name!r}: every template needs values it lacks ({sorted(available)})")
        richest = max(len(placeholders(v)) for v in usable)
        usable = [v for v in usable if len(placeholders(v)) == richest]
        pick = (zlib.crc32(act.name.encode()) + context.turn_index) % len(usable)
        return GeneratedReply(usable[pick], self.name, 1.0)
