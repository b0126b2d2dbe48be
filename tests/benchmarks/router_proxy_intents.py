"""The intents of the router proxy benchmark (see ``router_proxy``): 77 of a bank, an
insurer and a clinic, as many as the public banking benchmark has, in groups of near
neighbours. Each intent's core phrasings are joined with ``|``; ``{slot}`` is filled from
``router_proxy.SLOTS``. Every fourth phrasing is the test split's only.
"""

INTENTS = {
    "card_arrival": "my new {card} still hasn't arrived|I'm still waiting for my {card}|"
    "where is the {card} you sent me|my {card} never came in the mail|"
    "has my {card} been posted yet|it's been two weeks and still no {card}|"
    "can you track my {card} for me|I think my {card} got lost in the post",
    "card_delivery_estimate": "how long does it take to get a {card}|"
    "when will my {card} be delivered|how many days until my {card} comes|"
    "what's the delivery time for a {card}|can I choose the delivery date for my {card}|"
    "do you deliver cards abroad and how fast|how soon can I get a {card}|"
    "is express delivery available for a {card}",
    "activate_card": "how do I activate my {card}|I need to activate the {card} I just got|"
    "my {card} came, how do I start using it|where do I activate a {card}|"
    "the {card} says it needs activating|can you activate my {card} for me|"
    "I received my {card} but can't activate it|what are the steps to activate a {card}",
    "card_not_working": "my {card} isn't working|my {card} stopped working|"
    "the chip on my {card} is broken|my {card} is damaged and won't work|"
    "my {card} doesn't work anywhere anymore|is my {card} frozen|"
    "my {card} is bent and unreadable|my {card} won't work at all",
    "card_declined_in_shop": "my {card} was declined at the shop|"
    "why was my {card} payment declined|the store refused my {card}|"
    "my payment got rejected at the checkout|my {card} got declined buying groceries|"
    "I couldn't pay with my {card} in a restaurant|my online purchase was declined|"
    "the merchant says my {card} was refused",
    "card_swallowed": "the ATM swallowed my {card}|the cash machine kept my {card}|"
    "my {card} is stuck in the ATM|the machine ate my {card}|"
    "the ATM didn't give my {card} back|how do I get my {card} back from the ATM|"
    "my {card} got retained by a cash machine|the ATM took my {card}",
    "lost_or_stolen_card": "I lost my {card}|my {card} was stolen|"
    "I can't find my {card} anywhere|someone stole my wallet with my {card}|"
    "I need to report a lost {card}|my bag was taken with my {card} in it|"
    "please block my {card}, I lost it|I left my {card} somewhere and it's gone",
    "compromised_card": "someone used my {card} without permission|"
    "I think my {card} details were stolen online|there are purchases I didn't make with my "
    "{card}|my {card} has been cloned|someone else has my {card} number|"
    "my {card} was used fraudulently|I got a fraud alert on my {card}|"
    "my {card} details were hacked",
    "change_pin": "how do I change my PIN|I want a new PIN for my {card}|"
    "can I change my PIN at an ATM|where can I reset my PIN|can I pick my own PIN|"
    "I'd like to update my PIN number|can I change the PIN in the app|"
    "is it possible to change my {card} PIN",
    "pin_blocked": "my PIN is blocked|I entered the wrong PIN too many times|"
    "my {card} is locked after wrong PIN attempts|how do I unblock my PIN|"
    "I'm locked out after three wrong PINs|the ATM says my PIN is blocked|"
    "I typed my PIN wrong and now it's blocked|can you unblock my PIN please",
    "forgot_passcode": "I forgot my app passcode|I can't log in to the app|"
    "how do I reset my app password|I don't remember my login code|"
    "the app won't accept my passcode|I'm locked out of online banking|"
    "I forgot my password for the app|how do I recover my login details",
    "order_spare_card": "can I get a second {card}|I want an extra {card} for my partner|"
    "how do I order another {card}|can I have a spare {card}|"
    "I'd like an additional {card}|how many cards can I have|"
    "can my daughter get a {card} on my account|is there a fee for a second {card}",
    "virtual_card": "how do I get a virtual card|do you offer virtual cards|"
    "my virtual card isn't working|can I create a disposable virtual card|"
    "where do I find my virtual card details|can I use a virtual card online|"
    "how many virtual cards can I make|I want a virtual card for shopping online",
    "contactless_not_working": "contactless isn't working on my {card}|"
    "tap to pay doesn't work|my {card} won't pay contactless|"
    "why can't I use contactless|contactless payment keeps failing|"
    "the contactless on my {card} stopped working|I can only pay with chip and PIN now|"
    "how do I turn on contactless",
    "card_expiring": "my {card} is about to expire|my {card} expires next month|"
    "what happens when my {card} expires|will you send a new {card} before it expires|"
    "how do I renew my expired {card}|my {card} expired yesterday|"
    "do I need to order a replacement before expiry|when will my renewed {card} come",
    "transfer_pending": "my transfer is still pending|why is my transfer pending|"
    "the transfer has been pending for days|how long will my transfer stay pending|"
    "my payment to a friend is stuck on pending|the transfer shows as processing|"
    "when will my pending transfer go through|my transfer hasn't completed yet",
    "transfer_failed": "my transfer failed|the transfer didn't go through|"
    "why did my bank transfer fail|I got an error sending money|"
    "my payment to my landlord failed|the transfer keeps failing|"
    "the app says transfer unsuccessful|I tried sending {money} but it failed",
    "transfer_not_received": "my friend hasn't received the money I sent|"
    "the recipient says they didn't get my transfer|I sent {amount} but it never arrived|"
    "the money left my account but they don't have it|"
    "my landlord still hasn't got my payment|where is the transfer I sent yesterday|"
    "the person I paid hasn't seen the funds|my transfer didn't reach the other account",
    "cancel_transfer": "can I cancel a transfer|I sent money to the wrong account|"
    "please stop the payment I just made|how do I reverse a transfer|"
    "I made a mistake in a transfer, can you cancel it|undo my last transfer|"
    "I need to recall a payment|I transferred {amount} by mistake",
    "transfer_fee": "why was I charged for a transfer|is there a fee for transfers|"
    "how much does it cost to send money|I got charged a fee for sending money|"
    "are international transfers free|why did my transfer cost extra|"
    "what are your transfer charges|the transfer fee seems too high",
    "incoming_transfer_missing": "money sent to me hasn't arrived|"
    "my salary hasn't shown up in my account|I'm expecting a transfer that's not here|"
    "my balance didn't update after a transfer in|someone paid me but I can't see it|"
    "the transfer from my other bank isn't showing|where is the money my mum sent me|"
    "a deposit from my employer is missing",
    "unrecognised_payment": "there's a payment I don't recognise|"
    "I see a charge I didn't make|what is this transaction on my statement|"
    "there's an unknown merchant on my account|I don't remember buying this|"
    "a strange debit appeared in the app|who is this payment to|"
    "I didn't authorise this purchase",
    "charged_twice": "I was charged twice|the same payment shows up two times|"
    "I got double charged for one purchase|there's a duplicate transaction|"
    "the shop took the money twice|I paid once but see two charges|"
    "why am I charged two times for the same thing|there are two identical payments",
    "atm_fee": "why was I charged for using the ATM|is there a fee for cash withdrawals|"
    "I got a fee for taking out cash|how much do you charge for ATM withdrawals|"
    "why did the cash machine charge me|are withdrawals free|"
    "the ATM fee is on my statement|I didn't expect a fee for getting cash",
    "card_payment_fee": "why was there a fee on my {card} payment|"
    "do you charge for paying by {card}|I got an extra fee for a purchase|"
    "why did a shop payment cost more than the price|is there a fee for paying abroad|"
    "a fee was added when I paid by {card}|why is there a charge on my purchase|"
    "card payment fees explained",
    "wrong_exchange_rate": "the exchange rate was wrong on my payment|"
    "I got a bad exchange rate abroad|why is the currency conversion so poor|"
    "the rate you used doesn't match the official one|I was charged more in euros than "
    "expected|what exchange rate do you use|the conversion on my purchase looks wrong|"
    "my foreign payment used the wrong rate",
    "refund_not_showing": "my refund hasn't appeared|the shop refunded me but I don't see "
    "it|where is my refund|I'm still waiting for a refund|"
    "the merchant says they sent the refund|my refund is missing from my statement|"
    "how long does a refund take to show|I returned an item and got no money back",
    "request_refund": "I want a refund for a purchase|can I get my money back for an "
    "order|how do I request a refund|the item never came, I want a refund|"
    "I'd like to dispute a purchase and get refunded|the product was faulty, refund please|"
    "can you refund a payment I made|I changed my mind about a purchase",
    "atm_wrong_amount": "the ATM gave me less cash than I asked for|"
    "I got the wrong amount of money from the machine|the cash machine gave me {amount} "
    "short|I withdrew {amount} but received less|the ATM didn't give me all my cash|"
    "I was debited more than the cash I got|the machine dispensed the wrong amount|"
    "money missing from my withdrawal",
    "cash_withdrawal_pending": "my cash withdrawal is still pending|"
    "the ATM withdrawal shows as pending|why is my withdrawal not complete|"
    "the cash I took out is still processing|my ATM transaction is stuck|"
    "a withdrawal I cancelled is still pending|pending cash withdrawal on my account|"
    "how long until my withdrawal clears",
    "cash_withdrawal_declined": "the ATM declined my {card}|I couldn't withdraw cash|"
    "the cash machine refused my withdrawal|why can't I take out money|"
    "my withdrawal was rejected|the ATM said transaction declined|"
    "I tried two ATMs and both declined me|I can't get cash out",
    "top_up_pending": "my top up is still pending|I topped up but the money isn't there "
    "yet|why is my top up taking so long|the top up shows as processing|"
    "how long does a top up take|my top up hasn't gone through yet|"
    "I added {money} but it's pending|the top up is stuck",
    "top_up_failed": "my top up failed|I can't top up my account|the top up was declined|"
    "why did my top up not work|adding {money} keeps failing|"
    "my top up by {card} was rejected|the app won't let me top up|top up error",
    "top_up_limits": "what is the maximum top up|is there a top up limit|"
    "how much can I top up in a day|how often can I top up|"
    "can I top up more than {amount}|what's the limit for adding money|"
    "is there a minimum top up|are top ups limited",
    "close_account": "I want to close my account|please delete my account|"
    "how do I close my bank account|I'm leaving, cancel my account|"
    "I don't need this account anymore|terminate my account please|"
    "can I shut down my account today|I want to end my membership",
    "update_personal_details": "I need to change my address|how do I update my phone "
    "number|I got married and need to change my name|can I update my email address|"
    "I moved house, where do I change my details|my personal details are wrong|"
    "how do I edit my profile|I want to change the name on my account",
    "verify_identity": "how do I verify my identity|what documents do I need for "
    "verification|where do I upload my ID|the identity check isn't working|"
    "my ID verification failed|can I verify with a driving licence|"
    "how long does identity verification take|I can't prove my identity in the app",
    "age_limit": "how old do I need to be to open an account|can my child have an "
    "account|is there a minimum age|can a teenager open an account|"
    "what age can my son get a {card}|do you have accounts for kids|"
    "can I open an account for my daughter|is my child too young to sign up",
    "apple_pay_or_google_pay": "can I use Apple Pay with my {card}|how do I add my {card} "
    "to Google Pay|does my {card} work with Apple Pay|my {card} won't add to my phone wallet|"
    "is Google Pay supported|can I pay with my phone instead of my {card}|"
    "Apple Pay keeps rejecting my {card}|how do I set up mobile payments",
    "automatic_top_up": "how do I set up auto top up|can my account top up automatically|"
    "I want to turn off automatic top ups|the auto top up didn't trigger|"
    "can you top up my account when the balance is low|how does auto top-up work|"
    "change the amount of my automatic top up|why did an automatic top up happen",
    "beneficiary_not_allowed": "I can't add a new payee|the app won't let me add a "
    "beneficiary|why is this beneficiary not allowed|adding a recipient keeps failing|"
    "my new payee was rejected|I get an error when saving a beneficiary|"
    "why can't I send money to this person|the beneficiary details were not accepted",
    "country_support": "which countries do you support|can I open an account if I live "
    "abroad|do you operate in Canada|is the service available in my country|"
    "I'm moving to Spain, can I keep my account|can non residents sign up|"
    "what countries can I use the app in|are you available outside the UK",
    "exchange_via_app": "how do I exchange currency in the app|can I convert {money} to "
    "euros|I want to change pounds into dollars|can I hold foreign currency in my "
    "account|how do I swap currencies|can I exchange money before my trip|"
    "where is the currency exchange in the app|can I buy dollars with my balance",
    "exchange_charge": "is there a fee for exchanging currency|why was I charged for a "
    "currency exchange|how much do you charge to convert money|"
    "I got a fee when I changed euros|are currency exchanges free on weekends|"
    "what's the markup on exchanges|the exchange cost me more than expected|"
    "do you charge for converting {money}",
    "get_physical_card": "I only have a virtual card, can I get a real one|how do I order "
    "a physical {card}|can I get a plastic card|I want a physical card to use at ATMs|"
    "is there a physical version of my card|where do I request a physical {card}|"
    "can you post me an actual card|I need a real {card}, not a virtual one",
    "lost_or_stolen_phone": "I lost my phone with the app on it|my phone was stolen|"
    "someone took my phone, is my account safe|how do I block the app on my lost phone|"
    "I got a new phone after mine was stolen|my mobile is gone and it had banking on it|"
    "can you lock my account, my phone was stolen|I dropped my phone in the sea",
    "pending_card_payment": "my {card} payment is still pending|why is a purchase "
    "showing as pending|how long do card payments stay pending|"
    "a payment at a shop hasn't cleared yet|my purchase from last week is still pending|"
    "the hotel payment is pending on my {card}|when will my pending payment go through|"
    "why hasn't my card payment completed",
    "reverted_card_payment": "my {card} payment was reverted|a purchase got reversed|"
    "why did the money from a payment come back|the shop payment was cancelled and "
    "refunded|my payment bounced back to my account|a card transaction disappeared|"
    "the payment reverted but the merchant wants money|why was my purchase reversed",
    "top_up_by_bank_transfer": "can I top up by bank transfer|how do I add money from my "
    "other bank|what details do I use to transfer money in|is there a fee for topping up "
    "by transfer|I sent a transfer to top up, how long|where are my account details "
    "for a top up|can I top up with a SEPA transfer|how do I fund my account from my bank",
    "top_up_reverted": "my top up was reversed|the money from my top up went back|"
    "why did my top up get cancelled|I topped up but it was returned to my {card}|"
    "my top up disappeared|the top up reverted after a day|"
    "why was my top up refunded|I got my top up money back for no reason",
    "verify_source_of_funds": "why do you need to know where my money comes from|you "
    "asked for proof of source of funds|what documents prove my source of funds|"
    "how do I show where my salary comes from|my account is blocked until I prove my "
    "funds|do I have to explain this deposit|what counts as proof of income|"
    "I need to verify the origin of a large transfer",
    "why_verify_identity": "why do I have to verify my identity|why do you need my ID|"
    "is identity verification really necessary|why are you asking for my passport|"
    "what do you do with my ID photos|can I use the account without verifying|"
    "why is the verification step needed|I don't want to send my ID, why do you need it",
    "balance_not_updated_after_deposit": "I deposited a cheque but my balance hasn't "
    "changed|the cash I paid in isn't showing|my balance didn't update after a deposit|"
    "I put money in at the branch and it's not there|my cheque hasn't cleared yet|"
    "the deposit isn't reflected in my balance|how long until my cash deposit shows|"
    "my balance is the same after paying in {money}",
    "direct_debit_not_recognised": "there's a direct debit I don't recognise|who set up "
    "this direct debit|I never agreed to this direct debit|an unknown company is taking a "
    "monthly payment|how do I stop a direct debit I didn't set up|a standing order I "
    "don't know about|there's a recurring payment I didn't authorise|"
    "what is this monthly debit on my account",
    "transfer_timing": "how long does a transfer take|when will my transfer arrive|"
    "how fast are international transfers|do transfers go out on weekends|"
    "how many days for a transfer to Europe|is a bank transfer instant|"
    "what time do transfers get processed|how long until the money reaches them",
    "disposable_card_limits": "how many times can I use a disposable card|is there a limit "
    "on disposable virtual cards|how many disposable cards can I make a day|"
    "what's the spending limit on a single use card|does a disposable card expire after "
    "one payment|can I use a one time card twice|why did my disposable card stop after "
    "one purchase|are there limits on single use virtual cards",
    "supported_currencies": "which currencies do you support|can I hold Japanese yen|"
    "do you support Swiss francs|what currencies can I keep in my account|"
    "can I have a balance in dollars|is the Polish zloty supported|"
    "which currencies can I pay in|can I add a new currency to my account",
    "receiving_money": "how do I receive money from abroad|what details do I give someone "
    "to pay me|can people send money to my account|how do I get paid into this account|"
    "can I receive my salary here|what do I share so my friend can pay me|"
    "can I get a transfer from another country|is there a fee for receiving money",
    "file_claim": "I need to make a claim|how do I file an insurance claim|"
    "my car was damaged and I want to claim|I want to report a claim for water damage|"
    "how do I start a claim on my {policy} policy|can I claim for a broken window|"
    "I had an accident and need to claim|where do I submit a claim",
    "claim_status": "what's happening with my claim|any update on my claim|"
    "when will my claim be paid|my claim has been open for weeks|"
    "has my claim been approved yet|I'm checking the status of my claim|"
    "how long until my claim is settled|I haven't heard back about my claim",
    "claim_rejected": "why was my claim rejected|my claim was denied|"
    "I want to appeal a rejected claim|you turned down my claim|"
    "my claim was refused and I disagree|can I challenge the claim decision|"
    "why didn't you pay my claim|the insurer declined my claim",
    "renew_policy": "I want to renew my {policy} policy|how do I renew my insurance|"
    "my {policy} cover is up for renewal|can I renew for another year|"
    "please renew my {policy} insurance|I got a renewal notice and want to continue|"
    "is my policy renewing automatically|what do I need to renew my cover",
    "cancel_policy": "I want to cancel my {policy} policy|please cancel my insurance|"
    "how do I stop my {policy} cover|I found a cheaper insurer, cancel my policy|"
    "can I cancel my policy mid term|I don't need this insurance anymore|"
    "end my {policy} policy today|is there a fee to cancel my policy",
    "premium_increase": "why did my premium go up|my insurance got more expensive|"
    "why is my renewal price higher|my {policy} premium increased a lot|"
    "can you explain the price rise on my policy|why am I paying more this year|"
    "the new premium is too high|what made my premium increase",
    "add_driver": "can I add a driver to my car insurance|I want to add my wife to my "
    "policy|how do I add a named driver|my son passed his test, can he be insured|"
    "add a second driver please|can someone else drive my car on my policy|"
    "how much to add a young driver|I need to put my partner on the car insurance",
    "coverage_question": "does my {policy} policy cover flood damage|what does my "
    "insurance cover|am I covered for theft|is accidental damage included|"
    "does my policy cover me abroad|what's excluded from my cover|"
    "am I insured if my phone breaks|is my bike covered under home insurance",
    "insurance_documents": "I need a copy of my policy documents|can you send my "
    "insurance certificate|where can I download my policy|I need proof of insurance|"
    "please email me my {policy} certificate|I lost my policy documents|"
    "can I get my insurance schedule|my landlord wants proof of cover",
    "book_appointment": "I'd like to book an appointment|can I see {provider} next week|"
    "I need to make an appointment|are there any appointments {when}|"
    "can I book a checkup|I want to schedule a visit with {provider}|"
    "do you have a slot on {day}|I need to see a doctor",
    "reschedule_appointment": "can I move my appointment|I need to reschedule my visit|"
    "can we change my appointment to {day}|I can't make {day}, can we pick another "
    "time|please move my appointment with {provider}|I'd like a later time for my "
    "appointment|can I swap my appointment to next week|change my booking please",
    "cancel_appointment": "I need to cancel my appointment|please cancel my visit on "
    "{day}|I won't be able to come, cancel it|cancel my appointment with {provider}|"
    "I don't need the appointment anymore|how do I cancel a booking|"
    "can you remove my appointment|I have to cancel, something came up",
    "confirm_appointment": "I'm calling to confirm my appointment|is my appointment on "
    "{day} still on|can you confirm my booking with {provider}|yes I'll be there on "
    "{day}|just confirming my visit|what time is my appointment|"
    "do I still have an appointment {when}|I got a reminder and want to confirm",
    "prescription_refill": "I need a repeat prescription|can I get my prescription "
    "renewed|I'm running out of my medication|please refill my prescription|"
    "how do I order more of my medicine|can {provider} renew my prescription|"
    "my pills are nearly finished|is my prescription ready",
    "test_results": "are my test results back|I'm waiting for my blood test results|"
    "can I get my lab results|when will my results be ready|"
    "did {provider} look at my results|I want to know my scan results|"
    "how do I see my test results|any news on my tests",
    "referral": "I need a referral to a specialist|can {provider} refer me|"
    "how do I get a referral|I was told I need a referral letter|"
    "can you refer me to a dermatologist|has my referral been sent|"
    "I need a referral for physiotherapy|where is my referral",
    "clinic_hours": "what are your opening hours|are you open on {day}|"
    "what time do you close|is the clinic open on weekends|"
    "when do you open in the morning|are you open on public holidays|"
    "what are the clinic hours {when}|how late are you open",
    "clinic_billing": "I have a question about my bill|why was I charged for my visit|"
    "I got an invoice from the clinic|how do I pay my clinic bill|"
    "my bill seems wrong|can I pay my bill in instalments|"
    "what is this charge from the clinic|I was billed twice for one visit",
    "medical_records": "I need a copy of my medical records|can I see my health "
    "records|how do I get my records transferred|please send my records to my new "
    "doctor|I want to access my patient file|can I download my medical history|"
    "my new clinic needs my records|how do I request my records",
}
