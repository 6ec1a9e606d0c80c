"""Push adapters (APNs, FCM v1) and what they share: payload fitting, Retry-After."""
