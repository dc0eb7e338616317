producer.send("user-events", key="user-42", value="login-event")
