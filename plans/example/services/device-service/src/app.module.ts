import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { HealthModule } from './health/health.module';
import { DevicesModule } from './devices/devices.module';
import { NodesModule } from './nodes/nodes.module';
import { SnapshotsModule } from './snapshots/snapshots.module';

@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true }),
    TypeOrmModule.forRoot({
      type: 'postgres',
      host: process.env.DB_HOST || 'localhost',
      port: parseInt(process.env.DB_PORT || '5432', 10),
      username: process.env.DB_USERNAME || 'postgres',
      password: process.env.DB_PASSWORD || 'postgres',
      database: 'cloudphone_core',
      autoLoadEntities: true,
      // Never true outside local experiments: it rewrites the schema at boot.
      synchronize: false,
      logging: process.env.NODE_ENV === 'development',
    }),
    HealthModule,
    DevicesModule,
    NodesModule,
    SnapshotsModule,
  ],
})
export class AppModule {}
