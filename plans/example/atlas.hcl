// Atlas project file: one env per service.
// Usage: atlas migrate diff --env user-service
env "api-gateway" {
  url = "postgres://svc:secret@db.internal:5432/cloudphone_core?search_path=public&sslmode=disable&application_name=api-gateway"
  dev = "docker://postgres/15/dev?search_path=public"
  migration {
    dir = "file://services/api-gateway/migrations"
  }
}

env "user-service" {
  url = "postgres://svc:secret@db.internal:5432/cloudphone_core?search_path=public&sslmode=disable&application_name=user-service"
  dev = "docker://postgres/15/dev?search_path=public"
  migration {
    dir = "file://services/user-service/migrations"
  }
}

env "device-service" {
  url = "postgres://svc:secret@db.internal:5432/cloudphone_core?search_path=public&sslmode=disable&application_name=device-service"
  dev = "docker://postgres/15/dev?search_path=public"
  migration {
    dir = "file://services/device-service/migrations"
  }
}

env "app-service" {
  url = "postgres://svc:secret@db.internal:5432/cloudphone_core?search_path=public&sslmode=disable&application_name=app-service"
  dev = "docker://postgres/15/dev?search_path=public"
  migration {
    dir = "file://services/app-service/migrations"
  }
}

env "billing-service" {
  url = "postgres://svc:secret@db.internal:5432/cloudphone_core?search_path=public&sslmode=disable&application_name=billing-service"
  dev = "docker://postgres/15/dev?search_path=public"
  migration {
    dir = "file://services/billing-service/migrations"
  }
}

env "notification-service" {
  url = "postgres://svc:secret@db.internal:5432/cloudphone_core?search_path=public&sslmode=disable&application_name=notification-service"
  dev = "docker://postgres/15/dev?search_path=public"
  migration {
    dir = "file://services/notification-service/migrations"
  }
}
