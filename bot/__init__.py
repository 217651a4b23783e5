"""The web app, Twilio I/O, the agent, the worker and the command line of advisor-bot."""
