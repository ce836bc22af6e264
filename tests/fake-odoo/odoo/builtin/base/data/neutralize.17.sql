-- From 17.0 on, base/data/neutralize.sql also deactivates webhooks (server actions of
-- state 'webhook', which came in 17.0):
UPDATE ir_act_server
   SET webhook_url = 'neutralization - disable webhook'
 WHERE state = 'webhook';
