"""The edges every app's API shares: the exception handler (every error is {"detail": reason}), the request
size limit, the job-start throttle and the OpenAPI schema class. Registered in settings."""
